package dkim

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	pdns "postern/internal/dns"
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
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if h, err := s.Sign(ctx, "football.example.com", strings.NewReader(msg)); err != nil || h == "" {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchSignMsgauth signs the same message with go-msgauth's signer, as
// postern did before it had its own: the reference for BenchmarkSign*.
func benchSignMsgauth(b *testing.B, algo string) {
	k, _, err := GenerateKey(algo)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(benchMessage())
	hkeys := oversign([]byte(testMessage))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sg, err := msgdkim.NewSigner(&msgdkim.SignOptions{
			Domain: "football.example.com", Selector: "bench", Signer: k, Hash: crypto.SHA256,
			HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
			BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
			HeaderKeys:             hkeys,
		})
		if err != nil {
			b.Fatal(err)
		}
		sg.Write(msg)
		if err := sg.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchVerify includes the key lookup, answered by the loopback DNS
// server, through one Verifier as the server keeps it.
func benchVerify(b *testing.B, algo string) {
	s, srv := benchSigner(b, algo)
	benchVerifyWith(b, s, srv.Resolver())
}

// benchVerifyCPU answers the key lookup from memory (the records the
// loopback server would give): the CPU cost of verification alone.
func benchVerifyCPU(b *testing.B, algo string) {
	s, srv := benchSigner(b, algo)
	txt, err := srv.Resolver().LookupTXT(context.Background(), "bench._domainkey.football.example.com")
	if err != nil {
		b.Fatal(err)
	}
	benchVerifyWith(b, s, staticTXT{"bench._domainkey.football.example.com": txt})
}

func benchVerifyWith(b *testing.B, s *Signer, res pdns.Resolver) {
	msg := benchMessage()
	ctx := context.Background()
	h, err := s.Sign(ctx, "football.example.com", strings.NewReader(msg))
	if err != nil {
		b.Fatal(err)
	}
	signed := h + msg
	v := NewVerifier(VerifyOptions{})
	log := discard()
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs, err := v.Verify(ctx, res, log, strings.NewReader(signed))
		if err != nil || len(rs) != 1 || rs[0].Result != Pass {
			b.Fatalf("%v %v", rs, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// staticTXT is an in-memory answer table, for benchmarks measuring CPU.
type staticTXT map[string][]string

func (s staticTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	if txt, ok := s[strings.TrimSuffix(name, ".")]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (staticTXT) LookupMX(context.Context, string) ([]*net.MX, error)        { return nil, errNoStatic }
func (staticTXT) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) { return nil, errNoStatic }
func (staticTXT) LookupHost(context.Context, string) ([]string, error)       { return nil, errNoStatic }
func (staticTXT) LookupAddr(context.Context, string) ([]string, error)       { return nil, errNoStatic }

var errNoStatic = errors.New("not in the static table")

func BenchmarkSignRSA2048(b *testing.B) { benchSign(b, AlgoRSA) }
func BenchmarkSignEd25519(b *testing.B) { benchSign(b, AlgoEd25519) }

func BenchmarkSignMsgauthRSA2048(b *testing.B) { benchSignMsgauth(b, AlgoRSA) }
func BenchmarkSignMsgauthEd25519(b *testing.B) { benchSignMsgauth(b, AlgoEd25519) }
func BenchmarkVerifyRSA2048(b *testing.B)      { benchVerify(b, AlgoRSA) }
func BenchmarkVerifyEd25519(b *testing.B)      { benchVerify(b, AlgoEd25519) }

func BenchmarkVerifyCPURSA2048(b *testing.B) { benchVerifyCPU(b, AlgoRSA) }
func BenchmarkVerifyCPUEd25519(b *testing.B) { benchVerifyCPU(b, AlgoEd25519) }

// benchCrypto measures the signature operation alone, to tell how much
// of BenchmarkVerifyCPU* is the cryptography.
func benchCrypto(b *testing.B, algo string) {
	k, _, err := GenerateKey(algo)
	if err != nil {
		b.Fatal(err)
	}
	rec, _ := PublicRecord(k)
	pk := parseKeyRecord(rec)
	hashed := sha256.Sum256([]byte("header data"))
	var sig []byte
	if algo == AlgoRSA {
		sig, err = k.Sign(rand.Reader, hashed[:], crypto.SHA256)
	} else {
		sig, err = k.Sign(rand.Reader, hashed[:], crypto.Hash(0))
	}
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := checkSignature(pk, hashed[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCryptoRSA2048(b *testing.B) { benchCrypto(b, AlgoRSA) }
func BenchmarkCryptoEd25519(b *testing.B) { benchCrypto(b, AlgoEd25519) }

// benchCryptoSign measures the private-key operation alone, to tell how
// much of BenchmarkSign* is the cryptography.
func benchCryptoSign(b *testing.B, algo string) {
	k, _, err := GenerateKey(algo)
	if err != nil {
		b.Fatal(err)
	}
	hashed := sha256.Sum256([]byte("header data"))
	opts := crypto.SignerOpts(crypto.SHA256)
	if algo == AlgoEd25519 {
		opts = crypto.Hash(0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k.Sign(rand.Reader, hashed[:], opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCryptoSignRSA2048(b *testing.B) { benchCryptoSign(b, AlgoRSA) }
func BenchmarkCryptoSignEd25519(b *testing.B) { benchCryptoSign(b, AlgoEd25519) }
