package limits

import (
	"context"
	"fmt"
	"testing"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/ratelimit"
	"postern/internal/ratelimit/redistest"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

// BenchmarkSession is the limits' share of one session from an unknown
// client that logs in and sends one message to one outside recipient:
// connect (lock-out, slot, hourly count), MAIL (messages), RCPT
// (recipients, outbound per user and host), close (slot back): 8 checks.
func BenchmarkSession(b *testing.B) {
	srv := redistest.Start(b)
	r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for name, be := range map[string]ratelimit.Backend{"memory": ratelimit.NewMemory(ratelimit.MemoryOptions{}), "redis": r} {
		b.Run(name, func(b *testing.B) {
			// The default limits, none of them reached.
			l := New(Options{Backend: be, Node: name})
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c := conn(fmt.Sprint(i), fmt.Sprintf("192.0.2.%d", i%250+1), smtpd.ModeSubmission)
				if v := l.CheckConnect(ctx, c); v != nil {
					b.Fatal(v)
				}
				c.AuthUser = fmt.Sprintf("u%d@example.org", i%100)
				t := &inbound.Txn{Conn: c, Values: map[any]any{}, Env: &envelope.Envelope{}}
				if v := l.CheckMail(ctx, t); v != nil {
					b.Fatal(v)
				}
				if v := l.CheckRcpt(ctx, t, smtp.Path{}, &envelope.Recipient{Addr: "x@remote.example"}); v != nil {
					b.Fatal(v)
				}
				l.Closed(c)
			}
		})
	}
}
