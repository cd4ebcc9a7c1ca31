package dns_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	pdns "postern/internal/dns"
)

// rawServer runs a DNS server on loopback UDP whose replies a test
// writes itself, and records the queries it got.
func rawServer(t *testing.T, reply func(req *dns.Msg) *dns.Msg) (addr string, queries func() []*dns.Msg) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []*dns.Msg
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		mu.Lock()
		got = append(got, req.Copy())
		mu.Unlock()
		if m := reply(req); m != nil {
			w.WriteMsg(m)
		}
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String(), func() []*dns.Msg {
		mu.Lock()
		defer mu.Unlock()
		return append([]*dns.Msg(nil), got...)
	}
}

func txtReply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeTXT,
		Class: dns.ClassINET, Ttl: 60}, Txt: []string{"ok"}}}
	return m
}

// TestQueryShape: recursion desired, EDNS0 with a 1232-byte buffer, no
// DNSSEC bits, the name asked as an absolute name (no search list), a
// fresh ID per query.
func TestQueryShape(t *testing.T) {
	addr, queries := rawServer(t, txtReply)
	r := pdns.New(pdns.Options{Servers: []string{addr}})
	for _, name := range []string{"single", "example.test", "example.test."} {
		if txt, err := r.LookupTXT(context.Background(), name); err != nil || len(txt) != 1 {
			t.Fatalf("%s: %v %v", name, txt, err)
		}
	}
	qs := queries()
	if len(qs) != 3 {
		t.Fatalf("%d queries, want 3", len(qs))
	}
	want := []string{"single.", "example.test.", "example.test."}
	for i, q := range qs {
		if !q.RecursionDesired || q.AuthenticatedData || q.CheckingDisabled {
			t.Errorf("query %d: RD %v AD %v CD %v", i, q.RecursionDesired, q.AuthenticatedData, q.CheckingDisabled)
		}
		opt := q.IsEdns0()
		if opt == nil || opt.UDPSize() != 1232 || opt.Do() {
			t.Errorf("query %d: EDNS0 %v", i, opt)
		}
		if len(q.Question) != 1 || q.Question[0].Name != want[i] {
			t.Errorf("query %d: question %v, want %s", i, q.Question, want[i])
		}
	}
	if qs[1].Id == qs[2].Id && qs[0].Id == qs[1].Id {
		t.Error("the same ID three times")
	}
}

// TestReplyMismatch: a reply to another question or with another ID is
// not taken as the answer.
func TestReplyMismatch(t *testing.T) {
	for name, bend := range map[string]func(m *dns.Msg){
		"other name": func(m *dns.Msg) { m.Question[0].Name = "evil.test."; m.Answer[0].Header().Name = "evil.test." },
		"other type": func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeA },
		"other ID":   func(m *dns.Msg) { m.Id++ },
	} {
		addr, _ := rawServer(t, func(req *dns.Msg) *dns.Msg {
			m := txtReply(req)
			bend(m)
			return m
		})
		r := pdns.New(pdns.Options{Servers: []string{addr}, Timeout: 100 * time.Millisecond})
		txt, err := r.LookupTXT(context.Background(), "example.test")
		if pdns.IsNotFound(err) || !pdns.IsTemporary(err) {
			t.Errorf("%s: %v %v, want a temporary failure", name, txt, err)
		}
	}
}

// TestNoEDNS: a server that answers FORMERR to EDNS0 is asked again
// without it.
func TestNoEDNS(t *testing.T) {
	addr, queries := rawServer(t, func(req *dns.Msg) *dns.Msg {
		if req.IsEdns0() != nil {
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeFormatError)
			return m
		}
		return txtReply(req)
	})
	r := pdns.New(pdns.Options{Servers: []string{addr}})
	if txt, err := r.LookupTXT(context.Background(), "example.test"); err != nil || len(txt) != 1 {
		t.Fatalf("%v %v", txt, err)
	}
	if n := len(queries()); n != 2 {
		t.Errorf("%d queries, want 2", n)
	}
}
