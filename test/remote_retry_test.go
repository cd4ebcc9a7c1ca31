package test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/spool"
)

// The queue and remote delivery together, with short retry times: a
// recipient the next hop defers (451) is tried again and delivered, and a
// message injected locally with bare LF and lone dots leaves CR LF only
// and dot-stuffed.
func TestQueueRetriesRemoteDeferral(t *testing.T) {
	mx := startWireMX(t, false)
	later := &deferOnce{marker: "<LATER@"}
	mx.rcpt = later.rcpt
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. MX": {"10 mx.remote.example."}, "mx.remote.example. A": {"127.0.0.1"}})
	remote := &deliver.Remote{Hostname: "queue.example.test", Resolver: dns.Resolver(), Port: mx.Port, ConnectTimeout: 5 * time.Second}
	defer remote.Close()
	sp, err := spool.New(t.TempDir(), remote, slog.New(slog.DiscardHandler), spool.Options{RetryInitial: 200 * time.Millisecond, RetryMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; sp.Close() }()

	env := &envelope.Envelope{From: "cron@example.test", Received: time.Now(),
		Rcpts: []envelope.Recipient{{Addr: "now@remote.example"}, {Addr: "later@remote.example"}}}
	w, err := sp.Create(env)
	if err != nil {
		t.Fatal(err)
	}
	// As a local program might write it: bare LF, a lone dot, a lone CR.
	w.Write([]byte("Subject: local\n\n.\n.hidden\nbare\rCR\n..\nend"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	sp.Kick()
	got := mx.wait(2, 20*time.Second)
	if len(got) != 2 {
		t.Fatalf("next hop got %d transactions, want 2 (the second after the retry)", len(got))
	}
	want := "Subject: local\r\n\r\n..\r\n..hidden\r\nbare\r\nCR\r\n...\r\nend\r\n"
	for i, g := range got {
		if g != want {
			t.Errorf("transaction %d on the wire:\n got %q\nwant %q", i, g, want)
		}
	}
	if n := later.tries(); n != 2 {
		t.Errorf("deferred recipient tried %d times, want 2", n)
	}
}
