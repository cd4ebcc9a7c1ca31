package limits

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/ratelimit"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

func TestLimitResolution(t *testing.T) {
	trusted := netip.MustParsePrefix("10.0.0.0/8")
	l := New(Options{
		Backend: ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		Base:    Values{ConnectionsPerIPPerHour: 100, MessagesPerUserPerHour: -1},
		Overrides: []Override{
			{Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Values: Values{ConnectionsPerIPPerHour: 5}},
			{Listeners: []string{"sub"}, Values: Values{ConnectionsPerIPPerHour: 50}},
			{Users: []string{"Big@Example.org"}, Values: Values{MessagesPerUserPerHour: 5000}},
			{Networks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Values: Values{MaxConnectionsPerIP: 3}},
		},
		Access: func(ip netip.Addr) (int, bool, int, bool) {
			switch ip.String() {
			case "198.51.100.7":
				return 2, true, 0, true
			case "198.51.100.8":
				return 0, true, 4, true
			}
			return 0, false, 0, false
		},
		Trusted: trusted.Contains,
	})
	ip := netip.MustParseAddr
	tests := []struct {
		k    Kind
		w    who
		want int64
	}{
		{ConnectionsPerIP, who{listener: "mx", mode: smtpd.ModeMTA, ip: ip("203.0.113.1")}, 100},
		{MaxConnectionsPerIP, who{listener: "mx", mode: smtpd.ModeMTA, ip: ip("203.0.113.1")}, DefaultMTA.MaxConnectionsPerIP},
		{ConnectionsPerIP, who{listener: "mx", mode: smtpd.ModeMTA, ip: ip("192.0.2.9")}, 5},
		{ConnectionsPerIP, who{listener: "sub", mode: smtpd.ModeSubmission, ip: ip("192.0.2.9")}, 50}, // later wins
		{ConnectionsPerIP, who{listener: "mx", mode: smtpd.ModeMTA, ip: ip("198.51.100.7")}, 120},     // ClientRate per minute
		{ConnectionsPerIP, who{listener: "mx", mode: smtpd.ModeMTA, ip: ip("198.51.100.8")}, -1},      // ClientRate 0
		{MaxConnectionsPerIP, who{listener: "mx", mode: smtpd.ModeMTA, ip: ip("198.51.100.7")}, -1},   // ClientConn 0
		{MaxConnectionsPerIP, who{listener: "mx", mode: smtpd.ModeMTA, ip: ip("198.51.100.8")}, 4},
		{MessagesPerUser, who{mode: smtpd.ModeSubmission, ip: ip("203.0.113.1"), user: "big@example.org"}, 5000},
		{MessagesPerUser, who{mode: smtpd.ModeSubmission, ip: ip("203.0.113.1"), user: "small@example.org"}, -1},
		{RecipientsPerUser, who{mode: smtpd.ModeSubmission, ip: ip("203.0.113.1"), user: "x"}, DefaultSubmission.RecipientsPerUserPerHour},
		// Trusted: exempt from per-address limits, unless set for them.
		{ConnectionsPerIP, who{mode: smtpd.ModeMTA, ip: ip("10.2.3.4")}, -1},
		{MaxConnectionsPerIP, who{mode: smtpd.ModeMTA, ip: ip("10.2.3.4")}, -1},
		{AuthFailuresPerIP, who{mode: smtpd.ModeMTA, ip: ip("10.2.3.4")}, -1},
		{MaxConnectionsPerIP, who{mode: smtpd.ModeMTA, ip: ip("10.1.3.4")}, 3},
		{MaxConnections, who{mode: smtpd.ModeMTA, ip: ip("10.2.3.4")}, DefaultMTA.MaxConnections},
		{MessagesPerUser, who{mode: smtpd.ModeSubmission, ip: ip("10.2.3.4"), user: "x"}, -1},
		{RecipientsPerUser, who{mode: smtpd.ModeSubmission, ip: ip("10.2.3.4"), user: "x"}, DefaultSubmission.RecipientsPerUserPerHour},
		{OutboundPerHost, who{mode: smtpd.ModeMTA, ip: ip("203.0.113.1")}, -1},
	}
	for _, tt := range tests {
		if got := l.limit(tt.k, tt.w); got != tt.want {
			t.Errorf("%s for %+v = %d, want %d", tt.k, tt.w, got, tt.want)
		}
	}
}

func TestInWindow(t *testing.T) {
	tests := []struct {
		window time.Duration
		n      int64
		want   int64
	}{
		{time.Hour, 600, 600},
		{10 * time.Minute, 600, 100},
		{10 * time.Minute, 601, 101},
		{time.Second, 10, 1},
		{2 * time.Second, 5400, 3},
		{time.Minute, -1, -1},
		{time.Minute, 1 << 62, (1 << 62) / 3600000 * 60000},
	}
	for _, tt := range tests {
		l := New(Options{Backend: ratelimit.NewMemory(ratelimit.MemoryOptions{}), Window: tt.window})
		if got := l.inWindow(tt.n); got != tt.want {
			t.Errorf("inWindow(%d) over %v = %d, want %d", tt.n, tt.window, got, tt.want)
		}
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"::1":                  "::/64",
	} {
		if got := ipKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("ipKey(%s) = %s, want %s", in, got, want)
		}
	}
}

func conn(id, ip string, mode smtpd.Mode) *inbound.Conn {
	return &inbound.Conn{ID: id, Remote: netip.AddrPortFrom(netip.MustParseAddr(ip), 4000), Listener: mode.String(), Mode: mode, Values: map[any]any{}}
}

func code(v *inbound.Verdict) int {
	if v == nil || v.Reply == nil {
		return 0
	}
	return v.Reply.Code
}

func TestCheckers(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	var outbound []string
	l := New(Options{
		Backend: ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		Log:     slog.New(slog.NewTextHandler(&logs, nil)),
		Base: Values{ConnectionsPerIPPerHour: 3, MaxConnectionsPerIP: 2, MaxConnections: 10,
			MessagesPerUserPerHour: 2, RecipientsPerUserPerHour: 3, AuthFailuresPerIPPerHour: 2, OutboundPerUserPerHour: 2},
		IsLocal:    func(d string) bool { return d == "example.org" },
		OnOutbound: func(u string, n int64) { outbound = append(outbound, u) },
	})
	// Concurrency per address (IPv6 per /64) and the hourly count.
	a := conn("a", "2001:db8::1", smtpd.ModeMTA)
	b := conn("b", "2001:db8::2", smtpd.ModeMTA)
	c := conn("c", "2001:db8::3", smtpd.ModeMTA)
	if code(l.CheckConnect(ctx, a)) != 0 || code(l.CheckConnect(ctx, b)) != 0 {
		t.Fatal("first two connections refused")
	}
	v := l.CheckConnect(ctx, c)
	if code(v) != 421 || !strings.Contains(v.Reply.Text, "simultaneous") {
		t.Fatalf("third concurrent connection: %+v", v)
	}
	l.Closed(c)
	l.Closed(a)
	if l.Connections() != 1 {
		t.Fatalf("%d connections counted, want 1", l.Connections())
	}
	d := conn("d", "2001:db8::4", smtpd.ModeMTA)
	if v := l.CheckConnect(ctx, d); code(v) != 0 {
		t.Fatalf("after a close: %+v", v)
	}
	l.Closed(d)
	e := conn("e", "2001:db8::5", smtpd.ModeMTA)
	v = l.CheckConnect(ctx, e)
	if code(v) != 421 || !strings.Contains(v.Reply.Text, "too many connections from 2001:db8::5 (limit 3 per hour)") {
		t.Fatalf("fourth connection this hour: %+v", v)
	}
	l.Closed(e)
	l.Closed(b)

	// Failed logins lock the client out.
	s := conn("s", "192.0.2.1", smtpd.ModeSubmission)
	if v := l.CheckConnect(ctx, s); v != nil {
		t.Fatal(v)
	}
	if v := l.CheckAuth(ctx, s, "u", true, false); v != nil {
		t.Fatalf("first failure: %+v", v)
	}
	v = l.CheckAuth(ctx, s, "u", true, false)
	if code(v) != 454 || !strings.Contains(v.Reply.Text, "too many failed logins") {
		t.Fatalf("second failure: %+v", v)
	}
	if v := l.CheckAuth(ctx, s, "u", false, false); code(v) != 454 {
		t.Fatalf("attempt while locked out: %+v", v)
	}
	l.Closed(s)
	s2 := conn("s2", "192.0.2.1", smtpd.ModeSubmission)
	if v := l.CheckConnect(ctx, s2); code(v) != 421 {
		t.Fatalf("new connection while locked out: %+v", v)
	}
	l.Closed(s2)
	if !strings.Contains(logs.String(), "auth lockout") {
		t.Fatalf("lockout not logged: %s", logs.String())
	}
	// Not on the MTA listener.
	m := conn("m", "192.0.2.1", smtpd.ModeMTA)
	if v := l.CheckConnect(ctx, m); v != nil {
		t.Fatalf("MTA listener refuses a locked-out client: %+v", v)
	}
	l.Closed(m)

	// Messages, recipients and outbound per user.
	u := conn("u", "192.0.2.2", smtpd.ModeSubmission)
	u.AuthUser = "Alice@example.org"
	txn := &inbound.Txn{Conn: u, Values: map[any]any{}, Env: &envelope.Envelope{}}
	rcpt := func(addr string) *inbound.Verdict {
		return l.CheckRcpt(ctx, txn, smtp.Path{}, &envelope.Recipient{Addr: addr})
	}
	if l.CheckMail(ctx, txn) != nil || l.CheckMail(ctx, txn) != nil {
		t.Fatal("messages refused early")
	}
	if v := l.CheckMail(ctx, txn); code(v) != 451 || !strings.Contains(v.Reply.Text, "too many messages") {
		t.Fatalf("third message: %+v", v)
	}
	if rcpt("bob@example.org") != nil || rcpt("x@remote.example") != nil {
		t.Fatal("recipients refused early")
	}
	if v := rcpt("y@remote.example"); v != nil {
		t.Fatalf("second outbound: %+v", v)
	}
	if v := rcpt("z@remote.example"); code(v) != 451 || !strings.Contains(v.Reply.Text, "too many recipients") {
		t.Fatalf("fourth recipient: %+v", v)
	}
	if n, _ := l.OutboundRate(ctx, "alice@example.org"); n != 2 {
		t.Fatalf("outbound rate %d, want 2", n)
	}
	if n, _ := l.HostOutboundRate(ctx); n != 2 {
		t.Fatalf("host outbound rate %d, want 2", n)
	}
	if len(outbound) != 2 || outbound[0] != "alice@example.org" {
		t.Fatalf("OnOutbound calls %q", outbound)
	}
	r := l.Refusals()
	if r["max_connections_per_ip"] != 1 || r["connections_per_ip_per_hour"] != 1 || r["messages_per_user_per_hour"] != 1 ||
		r["recipients_per_user_per_hour"] != 1 || r["auth_failures_per_ip_per_hour"] != 3 {
		t.Fatalf("refusals %v", r)
	}
}

func TestMaxConnections(t *testing.T) {
	ctx := context.Background()
	l := New(Options{
		Backend:   ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		Base:      Values{MaxConnections: 3, MaxConnectionsPerIP: -1},
		Overrides: []Override{{Listeners: []string{"submission"}, Values: Values{MaxConnections: 1}}},
	})
	var open []*inbound.Conn
	for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		c := conn(string(rune('a'+i)), ip, smtpd.ModeMTA)
		if v := l.CheckConnect(ctx, c); v != nil {
			t.Fatalf("connection %d: %+v", i, v)
		}
		open = append(open, c)
	}
	c := conn("x", "192.0.2.9", smtpd.ModeMTA)
	if v := l.CheckConnect(ctx, c); code(v) != 421 || !strings.Contains(v.Reply.Text, "too many connections to this server") {
		t.Fatalf("over max_connections: %+v", v)
	}
	l.Closed(c)
	l.Closed(open[0])
	s1 := conn("s1", "192.0.2.7", smtpd.ModeSubmission)
	if v := l.CheckConnect(ctx, s1); v != nil {
		t.Fatalf("first on submission: %+v", v)
	}
	l.Closed(open[1])
	s2 := conn("s2", "192.0.2.8", smtpd.ModeSubmission)
	if v := l.CheckConnect(ctx, s2); code(v) != 421 || !strings.Contains(v.Reply.Text, "this service") {
		t.Fatalf("second on submission: %+v", v)
	}
	l.Closed(s2)
	l.Closed(s1)
	l.Closed(open[2])
	if l.Connections() != 0 {
		t.Fatalf("%d left", l.Connections())
	}
}

// failing is a backend whose every call fails (Redis down).
type failing struct{ ratelimit.Backend }

func (failing) Hit(context.Context, string, int64, time.Duration, int64) (ratelimit.Result, error) {
	return ratelimit.Result{}, errDown
}
func (failing) Acquire(context.Context, string, string, int64, time.Duration) (ratelimit.Result, error) {
	return ratelimit.Result{}, errDown
}
func (failing) Release(context.Context, ratelimit.Lease) error    { return errDown }
func (failing) Get(context.Context, string) ([]byte, bool, error) { return nil, false, errDown }

var errDown = &smtp.Reply{Code: 0, Text: "down"}

func TestBackendDown(t *testing.T) {
	ctx := context.Background()
	for _, open := range []bool{true, false} {
		g := &ratelimit.Guard{FailOpen: open}
		l := New(Options{Backend: failing{}, Guard: g})
		c := conn("a", "192.0.2.1", smtpd.ModeSubmission)
		v := l.CheckConnect(ctx, c)
		if open && v != nil || !open && (code(v) != 421 || v.Reply.Enhanced != "4.3.0") {
			t.Fatalf("fail_open %v: %+v", open, v)
		}
		l.Closed(c)
		if g.Errors() == 0 {
			t.Fatalf("fail_open %v: no error counted", open)
		}
	}
}

func TestInForce(t *testing.T) {
	l := New(Options{
		Backend:   ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		Base:      Values{MessagesPerUserPerHour: 50},
		Overrides: []Override{{Listeners: []string{"sub"}, Values: Values{MaxConnections: 10, ConnectionsPerIPPerHour: -1}}},
	})
	mx := l.InForce("mx", smtpd.ModeMTA)
	if mx["connections_per_ip_per_hour"] != 600 || mx["messages_per_user_per_hour"] != 50 || mx["max_connections"] != 2000 || mx["outbound_per_host_per_hour"] != -1 {
		t.Fatalf("mx: %v", mx)
	}
	sub := l.InForce("sub", smtpd.ModeSubmission)
	if sub["connections_per_ip_per_hour"] != -1 || sub["max_connections"] != 10 || sub["max_connections_per_ip"] != 20 {
		t.Fatalf("sub: %v", sub)
	}
}

// Local submissions have no client address: only the node's limits
// apply at connect, not one shared per-address count.
func TestLocalSubmissionNoPerIPLimit(t *testing.T) {
	ctx := context.Background()
	l := New(Options{
		Backend: ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		Base:    Values{MaxConnections: 100, MaxConnectionsPerIP: 2, ConnectionsPerIPPerHour: 3},
	})
	for i := 0; i < 10; i++ {
		c := &inbound.Conn{ID: "l" + string(rune('a'+i)), Listener: "local", Mode: smtpd.ModeLocal, LocalUser: "www-data", AuthUser: "www-data", Values: map[any]any{}}
		if v := l.CheckConnect(ctx, c); v != nil {
			t.Fatalf("local connection %d: %+v", i, v)
		}
	}
	if l.Connections() != 10 {
		t.Fatalf("%d connections counted, want 10", l.Connections())
	}
}
