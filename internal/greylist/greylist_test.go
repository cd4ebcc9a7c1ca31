package greylist

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(auto int) (*Greylist, *clock) {
	ck := &clock{time.Unix(1_700_000_000, 0)}
	g := &Greylist{Store: &Memory{Now: ck.now}, Delay: 5 * time.Minute, RetryWindow: time.Hour, Expire: 24 * time.Hour,
		AutoAllowAfter: auto, Listeners: map[string]bool{"mta": true}, Now: ck.now}
	return g, ck
}

func try(g *Greylist, ip, from, to string) int {
	c := &inbound.Conn{Remote: netip.AddrPortFrom(netip.MustParseAddr(ip), 1), Listener: "mta", Values: map[any]any{}}
	t := &inbound.Txn{Conn: c, Env: &envelope.Envelope{From: from}, Values: map[any]any{}}
	local, dom, _ := cut(to)
	v := g.CheckRcpt(context.Background(), t, smtp.Path{Local: local, Domain: dom}, nil)
	if v == nil {
		return 250
	}
	return v.Reply.Code
}

func cut(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestGreylist(t *testing.T) {
	g, ck := setup(0)
	if c := try(g, "192.0.2.1", "a@x.example", "u@example.test"); c != 451 {
		t.Fatalf("first attempt: %d", c)
	}
	ck.t = ck.t.Add(time.Minute)
	if c := try(g, "192.0.2.1", "a@x.example", "u@example.test"); c != 451 {
		t.Fatalf("retry too early: %d", c)
	}
	// Another host of the same /24 counts as the same client.
	ck.t = ck.t.Add(5 * time.Minute)
	if c := try(g, "192.0.2.77", "A@X.example", "u@example.test"); c != 250 {
		t.Fatalf("retry after the delay: %d", c)
	}
	if c := try(g, "192.0.2.1", "a@x.example", "u@example.test"); c != 250 {
		t.Fatalf("triplet that passed: %d", c)
	}
	// Other triplets are greylisted on their own.
	for _, tr := range [][3]string{{"192.0.3.1", "a@x.example", "u@example.test"}, {"192.0.2.1", "b@x.example", "u@example.test"}, {"192.0.2.1", "a@x.example", "v@example.test"}} {
		if c := try(g, tr[0], tr[1], tr[2]); c != 451 {
			t.Errorf("%v: %d", tr, c)
		}
	}
	// A first attempt not retried within the window is forgotten.
	ck.t = ck.t.Add(2 * time.Hour)
	if c := try(g, "192.0.3.1", "a@x.example", "u@example.test"); c != 451 {
		t.Errorf("after the retry window: %d", c)
	}
	// Other listeners are not greylisted.
	g.Listeners = map[string]bool{}
	if c := try(g, "198.51.100.1", "a@x.example", "u@example.test"); c != 250 {
		t.Errorf("other listener: %d", c)
	}
}

func TestGreylistAutoAllow(t *testing.T) {
	g, ck := setup(2)
	for i, to := range []string{"u1@example.test", "u2@example.test"} {
		if c := try(g, "2001:db8::1", "a@x.example", to); c != 451 {
			t.Fatalf("%d first: %d", i, c)
		}
		ck.t = ck.t.Add(6 * time.Minute)
		if c := try(g, "2001:db8::1", "a@x.example", to); c != 250 {
			t.Fatalf("%d retry: %d", i, c)
		}
	}
	// Two passes: the /64 goes straight through now, with any triplet.
	if c := try(g, "2001:db8::ffff", "new@y.example", "u3@example.test"); c != 250 {
		t.Errorf("auto-allowed client: %d", c)
	}
	if c := try(g, "2001:db8:0:1::1", "new@y.example", "u3@example.test"); c != 451 {
		t.Errorf("another /64: %d", c)
	}
}

type failingStore struct{ *Memory }

func (*failingStore) Touch(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("store down")
}

func TestGreylistStoreDownLetsMailIn(t *testing.T) {
	g, _ := setup(0)
	g.Store = &failingStore{&Memory{}}
	if c := try(g, "192.0.2.1", "a@x.example", "u@example.test"); c != 250 {
		t.Errorf("store down: %d", c)
	}
}

func TestMemoryStore(t *testing.T) {
	ck := &clock{time.Unix(0, 0)}
	m := &Memory{Max: 3, Now: ck.now}
	ctx := context.Background()
	if ok, _ := m.SetNX(ctx, "a", []byte("1"), time.Second); !ok {
		t.Fatal("SetNX new")
	}
	if ok, _ := m.SetNX(ctx, "a", []byte("2"), time.Second); ok {
		t.Fatal("SetNX existing")
	}
	if v, ok, _ := m.Get(ctx, "a"); !ok || string(v) != "1" {
		t.Fatalf("Get %q %v", v, ok)
	}
	ck.t = ck.t.Add(900 * time.Millisecond)
	if ok, _ := m.Touch(ctx, "a", time.Second); !ok {
		t.Fatal("Touch")
	}
	ck.t = ck.t.Add(900 * time.Millisecond)
	if _, ok, _ := m.Get(ctx, "a"); !ok {
		t.Fatal("touched key expired")
	}
	ck.t = ck.t.Add(200 * time.Millisecond)
	if _, ok, _ := m.Get(ctx, "a"); ok {
		t.Fatal("key outlived its ttl")
	}
	if ok, _ := m.Touch(ctx, "a", time.Second); ok {
		t.Fatal("Touch on a missing key")
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		m.Set(ctx, k, []byte(k), time.Hour)
	}
	if len(m.vals) > 3 {
		t.Errorf("%d keys held, max 3", len(m.vals))
	}
}
