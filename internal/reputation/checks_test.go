package reputation

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/dnsbl"
	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

func conn(ip, listener string, mode smtpd.Mode) *inbound.Conn {
	return &inbound.Conn{ID: "t1", Remote: netip.AddrPortFrom(netip.MustParseAddr(ip), 40000), Listener: listener, Mode: mode, Values: map[any]any{}}
}

func txn(c *inbound.Conn) *inbound.Txn {
	return &inbound.Txn{Conn: c, Env: &envelope.Envelope{From: "a@sender.example"}, Values: map[any]any{}}
}

func rcpt(t *testing.T, s string) smtp.Path {
	t.Helper()
	local, dom, _ := strings.Cut(s, "@")
	return smtp.Path{Local: local, Domain: dom}
}

func code(v *inbound.Verdict) int {
	if v == nil || v.Reply == nil {
		return 0
	}
	return v.Reply.Code
}

// zone serves two block lists and reverse DNS for a few clients.
var zone = dnstest.Zone{
	"2.2.0.192.bl.example. A":           {"127.0.0.2"},
	"4.2.0.192.bl.example. A":           {"127.255.255.254"},
	"2.2.0.192.other.example. A":        {"127.0.0.4"},
	"6.2.0.192.bl.example. SERVFAIL":    {""},
	"6.2.0.192.tf.example. SERVFAIL":    {""},
	"10.2.0.192.in-addr.arpa. PTR":      {"good.example."},
	"good.example. A":                   {"192.0.2.10"},
	"11.2.0.192.in-addr.arpa. PTR":      {"forged.example."},
	"forged.example. A":                 {"198.51.100.1"},
	"13.2.0.192.in-addr.arpa. SERVFAIL": {""},
	"mx.sender.example. A":              {"192.0.2.20"},
	"down.example. SERVFAIL":            {""},
}

func TestDNSBLChecker(t *testing.T) {
	srv := dnstest.Start(t, zone)
	codes, _ := dnsbl.ParseCodes([]string{"127.0.0.[2-11]"})
	lists := []*dnsbl.List{
		{Zone: "bl.example", Codes: codes},
		{Zone: "other.example", Reply: "listed: see https://other.example/{ip}"},
		{Zone: "tf.example", TempFail: true},
	}
	ctx := context.Background()
	hits := hitCount{}
	d := &DNSBL{Lists: lists, Resolver: srv.Resolver(), Listeners: map[string]bool{"mta": true},
		Exempt: Exempt{Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25")}}, Hits: hits}
	tests := []struct {
		ip, to, listener string
		code             int
		text             string
	}{
		{"192.0.2.2", "user@example.test", "mta", 550, "Rejected: 192.0.2.2 listed at bl.example"},
		{"192.0.2.2", "Postmaster@example.test", "mta", 0, ""},
		{"192.0.2.2", "user@example.test", "submission", 0, ""},
		{"192.0.2.200", "user@example.test", "mta", 0, ""}, // allow-listed
		{"192.0.2.4", "user@example.test", "mta", 0, ""},   // a code that does not count
		{"192.0.2.6", "user@example.test", "mta", 451, "Temporary lookup failure of 192.0.2.6 at tf.example"},
		{"192.0.2.7", "user@example.test", "mta", 0, ""},
	}
	for _, tt := range tests {
		c := conn(tt.ip, tt.listener, smtpd.ModeMTA)
		if v := d.CheckConnect(ctx, c); v != nil {
			t.Fatalf("%s: refused at connect in rcpt stage", tt.ip)
		}
		v := d.CheckRcpt(ctx, txn(c), rcpt(t, tt.to), nil)
		if code(v) != tt.code || tt.text != "" && v.Reply.Text != tt.text {
			t.Errorf("%s to %s on %s: %+v, want %d %q", tt.ip, tt.to, tt.listener, v, tt.code, tt.text)
		}
	}
	if hits["bl.example"] != 1 || len(hits) != 1 {
		t.Errorf("hits counted: %v", hits)
	}
	// The second list's own text.
	d2 := &DNSBL{Lists: lists[1:2], Resolver: srv.Resolver(), Listeners: map[string]bool{"mta": true}}
	c := conn("192.0.2.2", "mta", smtpd.ModeMTA)
	d2.CheckConnect(ctx, c)
	if v := d2.CheckRcpt(ctx, txn(c), rcpt(t, "u@example.test"), nil); code(v) != 550 || v.Reply.Text != "listed: see https://other.example/192.0.2.2" {
		t.Errorf("other list: %+v", v)
	}
	// At connect: 554 and disconnect; 421 for a DNS failure with tempfail.
	d.AtConnect = true
	if v := d.CheckConnect(ctx, conn("192.0.2.2", "mta", smtpd.ModeMTA)); code(v) != 554 || !v.Disconnect || v.Reply.Enhanced != "5.7.1" {
		t.Errorf("at connect: %+v", v)
	}
	if v := d.CheckConnect(ctx, conn("192.0.2.6", "mta", smtpd.ModeMTA)); code(v) != 421 {
		t.Errorf("at connect, DNS failure: %+v", v)
	}
	if v := d.CheckConnect(ctx, conn("192.0.2.7", "mta", smtpd.ModeMTA)); v != nil {
		t.Errorf("at connect, not listed: %+v", v)
	}
}

type hitCount map[string]int

func (h hitCount) DNSBLHit(zone string) { h[zone]++ }

func TestRDNS(t *testing.T) {
	srv := dnstest.Start(t, zone)
	ctx := context.Background()
	for _, tt := range []struct {
		ip   string
		name string
		st   RDNSStatus
	}{
		{"192.0.2.10", "good.example", Confirmed},
		{"192.0.2.11", "", Mismatch},
		{"192.0.2.12", "", NoPTR},
		{"192.0.2.13", "", DNSFailure},
	} {
		name, st, _ := ConfirmName(ctx, srv.Resolver(), netip.MustParseAddr(tt.ip))
		if name != tt.name || st != tt.st {
			t.Errorf("ConfirmName(%s) = %q %v, want %q %v", tt.ip, name, st, tt.name, tt.st)
		}
	}
	r := &RDNS{Resolver: srv.Resolver(), Policy: map[string]RDNSPolicy{"tag": RDNSTag, "tf": RDNSTempFail, "rej": RDNSReject}}
	tests := []struct {
		ip, listener, to string
		code             int
		enh              string
	}{
		{"192.0.2.10", "rej", "u@example.test", 0, ""},
		{"192.0.2.11", "rej", "u@example.test", 550, "5.7.25"},
		{"192.0.2.12", "rej", "u@example.test", 550, "5.7.25"},
		{"192.0.2.13", "rej", "u@example.test", 450, "4.7.25"},
		{"192.0.2.12", "rej", "postmaster@example.test", 0, ""},
		{"192.0.2.12", "tf", "u@example.test", 450, "4.7.25"},
		{"192.0.2.12", "tag", "u@example.test", 0, ""},
		{"192.0.2.12", "none", "u@example.test", 0, ""},
	}
	for _, tt := range tests {
		c := conn(tt.ip, tt.listener, smtpd.ModeMTA)
		if v := r.CheckConnect(ctx, c); v != nil {
			t.Fatalf("refused at connect: %+v", v)
		}
		v := r.CheckRcpt(ctx, txn(c), rcpt(t, tt.to), nil)
		if code(v) != tt.code || tt.enh != "" && v.Reply.Enhanced != tt.enh {
			t.Errorf("%s on %s to %s: %+v, want %d %s", tt.ip, tt.listener, tt.to, v, tt.code, tt.enh)
		}
	}
	c := conn("192.0.2.10", "tag", smtpd.ModeMTA)
	r.CheckConnect(ctx, c)
	if c.ClientName != "good.example" {
		t.Errorf("ClientName %q", c.ClientName)
	}
	// Loopback skipped when asked; exempt clients skipped.
	r.SkipLoopback = true
	r.Exempt = Exempt{Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.12/32")}}
	before := srv.Queries()
	for _, ip := range []string{"127.0.0.2", "192.0.2.12"} {
		c := conn(ip, "rej", smtpd.ModeMTA)
		r.CheckConnect(ctx, c)
		if v := r.CheckRcpt(ctx, txn(c), rcpt(t, "u@example.test"), nil); v != nil {
			t.Errorf("%s: %+v", ip, v)
		}
	}
	if srv.Queries() != before {
		t.Errorf("skipped clients were looked up")
	}
}

func TestHeloChecker(t *testing.T) {
	srv := dnstest.Start(t, zone)
	ctx := context.Background()
	h := &Helo{Level: map[string]HeloLevel{"syntax": HeloSyntax, "normal": HeloNormal, "strict": HeloStrict, "sub": HeloNormal},
		Hostname: "mx.example.test", IsLocal: func(d string) bool { return d == "example.test" },
		OwnAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Resolver: srv.Resolver(),
		Exempt: Exempt{Networks: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}}
	tests := []struct {
		listener, helo, ip string
		code               int
	}{
		{"syntax", "x", "192.0.2.20", 0},
		{"syntax", "my_laptop", "192.0.2.20", 501},
		{"syntax", "mx.example.test", "192.0.2.20", 0},
		{"normal", "mx.example.test", "192.0.2.20", 550},
		{"normal", "MX.Example.Test.", "192.0.2.20", 550},
		{"normal", "example.test", "192.0.2.20", 550},
		{"normal", "[192.0.2.1]", "192.0.2.20", 550},
		{"normal", "[192.0.2.20]", "192.0.2.20", 0},
		{"normal", "[192.0.2.21]", "192.0.2.20", 550},
		{"normal", "x", "192.0.2.20", 550},
		{"normal", "nowhere.sender.example", "192.0.2.20", 0},
		{"normal", "my_laptop", "198.51.100.1", 0}, // exempt
		{"strict", "mx.sender.example", "192.0.2.20", 0},
		{"strict", "nowhere.sender.example", "192.0.2.20", 550},
		{"strict", "down.example", "192.0.2.20", 450},
		{"off", "my_laptop", "192.0.2.20", 0},
	}
	for _, tt := range tests {
		c := conn(tt.ip, tt.listener, smtpd.ModeMTA)
		c.Helo = tt.helo
		v := h.CheckHelo(ctx, c)
		if code(v) != tt.code {
			t.Errorf("%s: HELO %s from %s: %+v, want %d", tt.listener, tt.helo, tt.ip, v, tt.code)
		}
		if v != nil && strings.ContainsAny(v.Reply.Text, "\r\n") {
			t.Errorf("reply text %q", v.Reply.Text)
		}
	}
	// Where users authenticate, the refusal waits for MAIL and goes away
	// with AUTH.
	c := conn("192.0.2.20", "sub", smtpd.ModeSubmission)
	c.Helo = "laptop"
	if v := h.CheckHelo(ctx, c); v != nil {
		t.Fatalf("submission HELO refused at once: %+v", v)
	}
	if v := h.CheckMail(ctx, txn(c)); code(v) != 550 {
		t.Errorf("submission MAIL without AUTH: %+v", v)
	}
	c.AuthUser = "alice@example.test"
	if v := h.CheckMail(ctx, txn(c)); v != nil {
		t.Errorf("submission MAIL after AUTH: %+v", v)
	}
}

func TestEarlyTalker(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	e := &EarlyTalker{Pause: map[string]time.Duration{"mta": 2 * time.Second}, Remember: time.Hour, MaxRemembered: 2,
		Exempt: Exempt{Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, Now: func() time.Time { return now }}
	ctx := context.Background()
	pause := func(ip, listener string) time.Duration {
		c := conn(ip, listener, smtpd.ModeMTA)
		e.CheckConnect(ctx, c)
		return c.GreetPause
	}
	if p := pause("192.0.2.1", "mta"); p != 2*time.Second {
		t.Errorf("unknown client: pause %s", p)
	}
	if p := pause("192.0.2.1", "submission"); p != 0 {
		t.Errorf("other listener: pause %s", p)
	}
	if p := pause("127.0.0.1", "mta"); p != 0 {
		t.Errorf("exempt client: pause %s", p)
	}
	// A client that waited and said HELO is not paused again...
	c := conn("2001:db8::1", "mta", smtpd.ModeMTA)
	e.CheckConnect(ctx, c)
	e.CheckHelo(ctx, c)
	if p := pause("2001:db8::2", "mta"); p != 0 {
		t.Errorf("same /64 after passing: pause %s", p)
	}
	// ...until Remember has passed.
	now = now.Add(2 * time.Hour)
	if p := pause("2001:db8::2", "mta"); p != 2*time.Second {
		t.Errorf("after Remember: pause %s", p)
	}
	// The memory stays bounded.
	for i := 1; i < 10; i++ {
		c := conn(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String(), "mta", smtpd.ModeMTA)
		e.CheckConnect(ctx, c)
		e.CheckHelo(ctx, c)
	}
	if len(e.passed) > 2 {
		t.Errorf("%d clients remembered, max 2", len(e.passed))
	}
}
