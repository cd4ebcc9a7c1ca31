package mailauth

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/dmarc"
	"postern/internal/dmarcreport"
	pdns "postern/internal/dns"
	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/inbound"
)

// BenchmarkTransaction is one message from a stranger through every
// stage of the Verifier: SPF at MAIL FROM, then DKIM (one RSA-2048
// signature), DMARC (p=reject), the record for reports and the header
// fields after DATA; all pass. It is the message of the cost test in
// test/mailauth_cost_test.go, DNS answered by a loopback server through
// the server's answer cache.
func BenchmarkTransaction(b *testing.B) { benchTransaction(b, false) }

// BenchmarkTransactionGoroutine runs each transaction on a new goroutine,
// as the server runs each connection: the stack grows anew every time.
func BenchmarkTransactionGoroutine(b *testing.B) { benchTransaction(b, true) }

func benchTransaction(b *testing.B, fresh bool) {
	keyDir := b.TempDir()
	_, pemKey, err := dkim.GenerateKey(dkim.AlgoRSA)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dkim.WriteKey(keyDir, "bench.example.com", "b1", pemKey); err != nil {
		b.Fatal(err)
	}
	if err := dkim.AddSelector(keyDir, "bench.example.com", dkim.Selector{Name: "b1", Algo: dkim.AlgoRSA, Created: time.Now().Add(-100 * time.Hour)}); err != nil {
		b.Fatal(err)
	}
	key, _ := dkim.LoadKey(dkim.KeyPath(keyDir, "bench.example.com", "b1"))
	rec, _ := dkim.PublicRecord(key)
	srv := dnstest.Start(b, dnstest.Zone{
		"bench.example.com. TXT":              {"v=spf1 ip4:127.0.0.2 -all"},
		"_dmarc.bench.example.com. TXT":       {"v=DMARC1; p=reject"},
		"b1._domainkey.bench.example.com TXT": {rec},
	})
	body := "From: Bench <sender@bench.example.com>\r\nTo: alice@example.test\r\nSubject: cost\r\n" +
		"Date: Sat, 21 Nov 2026 01:00:00 +0000\r\nMessage-ID: <cost@bench.example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 70)
	log := slog.New(slog.DiscardHandler)
	sig, err := dkim.NewSigner(log, dkim.SignOptions{Dir: keyDir}).Sign(context.Background(), "bench.example.com", strings.NewReader(body))
	if err != nil || sig == "" {
		b.Fatalf("sign: %q %v", sig, err)
	}
	msg := []byte("Received: from client.bench.example.com (client.bench.example.com [127.0.0.2])\r\n\tby mx.example.test with ESMTP; Sat, 21 Nov 2026 01:00:00 +0000\r\n" + sig + body)
	store, err := dmarcreport.NewFileBackend(b.TempDir(), log)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	v := NewVerifier(Options{
		Hostname: "mx.example.test",
		Resolver: pdns.NewCache(srv.Resolver(), pdns.CacheOptions{TTL: time.Hour}),
		Log:      log,
		Enforce:  dmarc.EnforceOptions{Enforce: true, Quarantine: "junk"},
		Store:    store,
	})
	conn := &inbound.Conn{ID: "c1", Remote: netip.MustParseAddrPort("127.0.0.2:41000"),
		Local: netip.MustParseAddrPort("127.0.0.1:25"), Helo: "client.bench.example.com", EHLO: true, Values: map[any]any{}}
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var t *inbound.Txn
		one := func() {
			t = &inbound.Txn{Conn: conn, Values: map[any]any{},
				Env: &envelope.Envelope{From: "sender@bench.example.com", ClientIP: conn.IP(), Helo: conn.Helo,
					Rcpts: []envelope.Recipient{{Addr: "alice@example.test"}}}}
			if vd := v.CheckMail(ctx, t); vd != nil {
				b.Errorf("mail: %+v", vd)
			}
			m := &inbound.Message{}
			m.Write(msg)
			if vd := v.CheckData(ctx, t, m); vd != nil {
				b.Errorf("data: %+v", vd)
			}
		}
		if fresh {
			done := make(chan struct{})
			go func() { one(); close(done) }()
			<-done
		} else {
			one()
		}
		if i == 0 {
			h := strings.Join(t.Headers(), "")
			if !strings.Contains(h, "dkim=pass") || !strings.Contains(h, "spf=pass") || !strings.Contains(h, "dmarc=pass") {
				b.Fatalf("checks did not pass:\n%s", h)
			}
		}
	}
}
