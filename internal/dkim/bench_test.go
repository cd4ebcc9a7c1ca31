package dkim

import (
	"context"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// benchMessage is a 10 KB message: the usual header fields and a text
// body of 78-character lines.
func benchMessage() string {
	var b strings.Builder
	b.WriteString(testMessage)
	line := strings.Repeat("All work and no play makes Jack a dull boy. ", 2)[:76] + "\r\n"
	for b.Len() < 10*1024 {
		b.WriteString(line)
	}
	return b.String()
}

func benchSigner(b *testing.B, algo string) (*Signer, *dnstest.Server) {
	dir := b.TempDir()
	rec := newKey(b, dir, "football.example.com", "bench", algo, time.Now().Add(-100*time.Hour))
	srv := dnstest.Start(b, dnstest.Zone{"bench._domainkey.football.example.com TXT": {rec}})
	return NewSigner(discard(), SignOptions{Dir: dir, Reload: time.Hour}), srv
}

func benchSign(b *testing.B, algo string) {
	s, _ := benchSigner(b, algo)
	msg := benchMessage()
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if h, err := s.Sign(ctx, "football.example.com", strings.NewReader(msg)); err != nil || h == "" {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchVerify includes the key lookup, answered by the loopback DNS
// server (postern's resolver does not cache).
func benchVerify(b *testing.B, algo string) {
	s, srv := benchSigner(b, algo)
	msg := benchMessage()
	ctx := context.Background()
	h, err := s.Sign(ctx, "football.example.com", strings.NewReader(msg))
	if err != nil {
		b.Fatal(err)
	}
	signed := h + msg
	res := srv.Resolver()
	b.SetBytes(int64(len(signed)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs, err := Verify(ctx, res, discard(), strings.NewReader(signed), VerifyOptions{})
		if err != nil || len(rs) != 1 || rs[0].Result != Pass {
			b.Fatalf("%v %v", rs, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkSignRSA2048(b *testing.B)   { benchSign(b, AlgoRSA) }
func BenchmarkSignEd25519(b *testing.B)   { benchSign(b, AlgoEd25519) }
func BenchmarkVerifyRSA2048(b *testing.B) { benchVerify(b, AlgoRSA) }
func BenchmarkVerifyEd25519(b *testing.B) { benchVerify(b, AlgoEd25519) }
