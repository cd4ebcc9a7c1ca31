package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/smtp"
)

func TestDispatcherRoutes(t *testing.T) {
	mapsDir := t.TempDir()
	mt := "blocked.example error:5.7.1:550 we do not send there\n" +
		"tempfail.example error:4.4.1:451 try later\n" +
		"mailhub.example local:hub\n"
	os.WriteFile(filepath.Join(mapsDir, "mailertable"), []byte(mt), 0o644)
	set, err := maps.Open(mapsDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mail := t.TempDir()
	dns := dnstest.Start(t, dnstest.Zone{"null.example. MX": {"0 ."}})
	remote := &deliver.Remote{Hostname: "mx.example.test", Resolver: dns.Resolver(), Port: 25}
	defer remote.Close()
	isLocal := func(d string) bool { return d == "example.test" }
	x := &dispatcher{
		local:    &deliver.Local{Mailbox: mail + "/{domain}/{user}/", IsLocal: isLocal},
		anyLocal: &deliver.Local{Mailbox: mail + "/{domain}/{user}/"},
		remote:   remote,
		maps:     set,
		isLocal:  isLocal,
	}
	rcpts := []envelope.Recipient{
		{Addr: "alice@example.test"}, {Addr: "x@blocked.example"}, {Addr: "y@tempfail.example"},
		{Addr: "z@mailhub.example"}, {Addr: "w@null.example"},
	}
	content := "Subject: x\r\n\r\nhi\r\n"
	env := &envelope.Envelope{ID: "D1", From: "s@example.org", Rcpts: rcpts, Size: int64(len(content)), Received: time.Now()}
	errs := x.Deliver(context.Background(), env, rcpts, strings.NewReader(content))
	if errs[0] != nil {
		t.Errorf("local: %v", errs[0])
	}
	want := []struct {
		code     int
		enhanced string
	}{{}, {550, "5.7.1"}, {451, "4.4.1"}, {}, {556, "5.1.10"}}
	for i, w := range want[1:] {
		i++
		if w.code == 0 {
			if errs[i] != nil {
				t.Errorf("%s: %v", rcpts[i].Addr, errs[i])
			}
			continue
		}
		rep, ok := errs[i].(*smtp.Reply)
		if !ok || rep.Code != w.code || rep.Enhanced != w.enhanced {
			t.Errorf("%s: %v, want %d %s", rcpts[i].Addr, errs[i], w.code, w.enhanced)
		}
	}
	if rep, _ := errs[1].(*smtp.Reply); rep != nil && rep.Text != "we do not send there" {
		t.Errorf("error route text %q", rep.Text)
	}
	for _, box := range []string{"example.test/alice", "mailhub.example/hub"} {
		ents, _ := os.ReadDir(filepath.Join(mail, box, "new"))
		if len(ents) != 1 {
			t.Errorf("%s: %d messages", box, len(ents))
		}
	}
}

func TestTLSPolicies(t *testing.T) {
	mapsDir := t.TempDir()
	os.WriteFile(filepath.Join(mapsDir, "access"), []byte("Try_TLS:broken.example NO\nTry_TLS:192.0.2.7 NO\n"), 0o644)
	set, err := maps.Open(mapsDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Delivery.TLSPolicy = "may"
	cfg.Delivery.TLSDestinations = []config.TLSDestination{
		{Destination: "partner.example", Policy: "verify"},
		{Destination: ".corp.example", Policy: "required"},
		{Destination: "mx.hosted.example", Policy: "required"},
	}
	pol, err := tlsPolicies(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("127.0.0.1")
	for _, c := range []struct {
		domain, host string
		ip           netip.Addr
		want         deliver.TLSPolicy
	}{
		{"partner.example", "mx.partner.example", ip, deliver.PolicyVerify},
		{"a.corp.example", "mx.a.corp.example", ip, deliver.PolicyRequired},
		{"corp.example", "mx.other.example", ip, deliver.PolicyMay},
		{"customer.example", "mx.hosted.example", ip, deliver.PolicyRequired},
		{"x.example", "smtp.broken.example", ip, deliver.PolicyNever},
		{"x.example", "mx.x.example", netip.MustParseAddr("192.0.2.7"), deliver.PolicyNever},
		{"x.example", "mx.x.example", ip, deliver.PolicyMay},
	} {
		if got := pol(c.domain, c.host, c.ip); got != c.want {
			t.Errorf("%s via %s [%s]: %s, want %s", c.domain, c.host, c.ip, got, c.want)
		}
	}
}

func TestSelfCheck(t *testing.T) {
	cfg := config.Default()
	cfg.Listeners = []config.Listener{{Address: "127.0.0.1:2525"}, {Address: ":25"}}
	self := selfCheck(cfg, []netip.Addr{netip.MustParseAddr("192.0.2.1")})
	for _, c := range []struct {
		ip   string
		port int
		want bool
	}{
		{"127.0.0.1", 2525, true}, {"127.0.0.1", 2526, false}, {"127.0.0.2", 2525, false},
		{"192.0.2.1", 25, true}, {"127.0.0.5", 25, true}, {"198.51.100.1", 25, false},
	} {
		if got := self(netip.MustParseAddr(c.ip), c.port); got != c.want {
			t.Errorf("%s:%d: %v, want %v", c.ip, c.port, got, c.want)
		}
	}
}
