package backupmx

import (
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/ratelimit"
	"postern/internal/ratelimit/redistest"
	"postern/internal/smtp"
	"postern/internal/testpeer"
)

func TestDecodeAnswer(t *testing.T) {
	tests := []struct {
		value string
		want  string // the reply's Error(), "accepted", or "error"
	}{
		{"250", "accepted"},
		{"550 5.1.1 User unknown", "550 5.1.1 User unknown"},
		{"550 User unknown", "550 5.1.1 User unknown"}, // 5.1.1 added
		{"553 4.1.1 odd", "553 5.1.1 4.1.1 odd"},       // a 4.x.x code on a 5xx is no enhanced code
		{"550 5.1.1 a\x1bb", "550 5.1.1 a b"},          // no control characters
		{"551", "551 5.1.1 recipient refused by the primary mail server"},
		{"251 forwarded", "error"},
		{"250 ok", "error"},                // only 250 is our accepted
		{"451 4.4.1 later", "error"},       // a 4xx is never kept
		{"550 5.1.1 a\r\n250 ok", "error"}, // one line only
		{"550-5.1.1 first", "error"},       // no continuation
		{"", "error"},
		{"abc", "error"},
		{"999 x", "error"},
		{"550 " + strings.Repeat("x", 2*maxText), "error"},
	}
	for _, tt := range tests {
		rep, err := decodeAnswer([]byte(tt.value))
		got := "accepted"
		switch {
		case err != nil:
			got = "error"
		case rep != nil:
			got = rep.Error()
		}
		if got != tt.want {
			t.Errorf("decodeAnswer(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
	for _, rep := range []*smtp.Reply{nil, {Code: 550, Enhanced: "5.1.1", Text: "User unknown in virtual mailbox table"}} {
		back, err := decodeAnswer(encodeAnswer(rep))
		if err != nil || (rep == nil) != (back == nil) || rep != nil && back.Error() != rep.Error() {
			t.Errorf("%v came back as %v, %v", rep, back, err)
		}
	}
}

// Whatever another node (or anything else with the backend's password)
// left under a callout key, it reads as accepted only when it is exactly 250,
// and as a refusal only as a clean 5xx with a 5.x.x code.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add([]byte("250"))
	f.Add([]byte("550 5.1.1 User unknown"))
	f.Fuzz(func(t *testing.T, v []byte) {
		rep, err := decodeAnswer(v)
		if err != nil {
			return
		}
		if rep == nil {
			if string(v) != "250" {
				t.Fatalf("%q read as accepted", v)
			}
			return
		}
		if !rep.Permanent() || rep.Enhanced[0] != '5' || len(rep.Text) > maxText || rep.Text == "" || strings.ContainsAny(rep.Text, "\r\n") {
			t.Fatalf("%q read as %+v", v, rep)
		}
	})
}

// sharedBackend is one engine for TestSharedCache: a new connection to
// it per node, and how to stop it.
type sharedBackend struct {
	name string
	open func(t *testing.T) (connect func() ratelimit.Backend, stop func())
}

// Two nodes' caches in one Redis or PostgreSQL: the answers node 1 got
// from the primary (a real Postfix) serve node 2 with the primary
// stopped, so without a second callout; each expires with its TTL; with
// the backend stopped too, node 2 answers 451, never accepted, and once
// the primary is back it asks it again.
func TestSharedCache(t *testing.T) {
	for _, b := range []sharedBackend{
		{"redis", func(t *testing.T) (func() ratelimit.Backend, func()) {
			srv := redistest.Start(t)
			return func() ratelimit.Backend {
				r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: srv.URL()})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}, srv.Stop
		}},
		{"postgres", func(t *testing.T) (func() ratelimit.Backend, func()) {
			pg := testpeer.StartPostgres(t)
			return func() ratelimit.Backend {
				p, err := ratelimit.NewPostgres(ratelimit.PostgresOptions{URL: pg.URL})
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Ping(t.Context()); err != nil { // makes the tables
					t.Fatal(err)
				}
				return p
			}, pg.Stop
		}},
	} {
		t.Run(b.name, func(t *testing.T) { sharedCache(t, b) })
	}
}

func sharedCache(t *testing.T, b sharedBackend) {
	connect, stop := b.open(t)
	pf, port, _ := testpeer.StartPostfixMailboxes(t, "mx1.backup.example", "backup.example", "bob", "carol")
	dns := dnstest.Start(t, dnstest.Zone{"backup.example. MX": {"10 mx1.backup.example.", "20 backup.test."}, "mx1.backup.example. A": {"127.0.0.1"}})
	node := func() (*Verifier, *Cache) {
		kv := connect()
		t.Cleanup(func() { kv.Close() })
		c := &Cache{Positive: time.Hour, Negative: 3 * time.Second, Shared: kv}
		return New(Options{Hostname: "backup.test", Resolver: dns.Resolver(), Port: port, Limit: 5 * time.Second,
			Domains: []Domain{{Name: "backup.example", Callout: true, Cache: c}}}), c
	}
	v1, _ := node()
	v2, c2 := node()
	check := func(v *Verifier, addr string, code int, why ...string) {
		t.Helper()
		rep, got := v.Callout(addr)
		if c := 250; rep != nil {
			c = rep.Code
			if c != code {
				t.Errorf("%s: %s (%s), want %d", addr, rep.Error(), got, code)
			}
		} else if code != 250 {
			t.Errorf("%s: accepted (%s), want %d", addr, got, code)
		}
		for _, w := range why {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q, want %q in it", addr, got, w)
			}
		}
	}
	tests := []struct {
		v    *Verifier
		addr string
		code int
		why  string
	}{
		{v1, "bob@backup.example", 250, "callout: the primary mx1.backup.example"},
		{v1, "nobody@backup.example", 550, "User unknown in virtual mailbox table"},
		{v2, "bob@Backup.Example", 250, "(cached answer)"},
		{v2, "nobody@backup.example", 550, "(cached answer): 550 5.1.1"},
		{v2, "carol@backup.example", 451, "no primary answered"}, // never asked: the primary is stopped below
	}
	for i, tt := range tests {
		if i == 2 {
			pf.Stop()
		}
		check(tt.v, tt.addr, tt.code, tt.why)
	}
	time.Sleep(3 * time.Second) // the refusal's TTL, kept by the backend
	if _, found := c2.Get("nobody@backup.example"); found {
		t.Error("the refusal outlived its TTL")
	}
	if _, found := c2.Get("bob@backup.example"); !found {
		t.Error("the acceptance is gone before its TTL")
	}
	stop()
	check(v2, "bob@backup.example", 451, "no primary answered", "the shared callout cache")
	pf.Start(t)
	check(v2, "carol@backup.example", 250, "callout: the primary", "the shared callout cache")
}

// The shared backend meets KV.
var _ KV = ratelimit.Backend(nil)
