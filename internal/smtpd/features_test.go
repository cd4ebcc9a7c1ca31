package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/smtp"
)

// featSession is a recSession whose client gets other Features, and
// that counts the client certificates it was shown.
type featSession struct {
	recSession
	f     Features
	certs *atomic.Int32
}

func (s *featSession) Features() Features { return s.f }
func (s *featSession) TLS(cs tls.ConnectionState) {
	if len(cs.PeerCertificates) > 0 {
		s.certs.Add(1)
	}
}

type featBackend struct {
	f     Features
	certs *atomic.Int32
}

func (b featBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	return &featSession{recSession: recSession{rec: &recorder{}}, f: b.f, certs: b.certs}, nil
}

func startFeatServer(t *testing.T, f Features, opts Options) (mta, sub string, certs *atomic.Int32) {
	t.Helper()
	certs = &atomic.Int32{}
	opts.Hostname, opts.TLS, opts.DSN = "mx.example.test", testTLSConfig(t), true
	srv := New(featBackend{f, certs}, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	addrs := map[Mode]string{}
	for _, m := range []Mode{ModeMTA, ModeSubmission} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[m] = ln.Addr().String()
		go srv.Serve(ln, Listener{Mode: m})
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return addrs[ModeMTA], addrs[ModeSubmission], certs
}

// Srv_Features: what a client is offered follows its Features.
func TestFeaturesPerClient(t *testing.T) {
	mta, sub, _ := startFeatServer(t, Features{NoSTARTTLS: true, NoPipelining: true, NoDSN: true}, Options{})
	c := dial(t, mta)
	ext := c.cmd("EHLO client.example", 250)
	for _, not := range []string{"STARTTLS", "PIPELINING", "DSN"} {
		if strings.Contains(ext, not) {
			t.Errorf("EHLO offers %s: %q", not, ext)
		}
	}
	c.cmd("STARTTLS", 454)
	c.cmd("MAIL FROM:<a@example.org> RET=FULL", 555)
	c.cmd("MAIL FROM:<a@example.org>", 250)

	_, sub2, _ := startFeatServer(t, Features{NoAUTH: true}, Options{})
	c = dial(t, sub2)
	c.cmd("EHLO client.example", 250)
	c.startTLS()
	if ext := c.cmd("EHLO client.example", 250); strings.Contains(ext, "AUTH") {
		t.Errorf("AUTH offered: %q", ext)
	}
	c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 503)
	_ = sub

	mta3, _, _ := startFeatServer(t, Features{RequireAuth: true}, Options{})
	c = dial(t, mta3)
	c.cmd("EHLO client.example", 250)
	c.cmd("MAIL FROM:<a@example.org>", 530)
}

// A client certificate is asked for by default or per client, and a
// client without one (or with an unknown CA) still gets TLS.
func TestFeaturesClientCert(t *testing.T) {
	clientCert := testTLSConfig(t).Certificates[0]
	handshake := func(addr string) {
		c := dial(t, addr)
		c.cmd("EHLO client.example", 250)
		c.cmd("STARTTLS", 220)
		tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{clientCert}})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c.nc, c.r = tc, bufio.NewReader(tc)
		c.cmd("EHLO client.example", 250)
		c.cmd("QUIT", 221)
	}
	for _, tc := range []struct {
		name  string
		opt   bool
		f     int
		certs int32
	}{
		{"not asked", false, 0, 0},
		{"asked by default", true, 0, 1},
		{"asked for this client", false, 1, 1},
		{"not asked of this client", true, -1, 0},
	} {
		mta, _, certs := startFeatServer(t, Features{ClientCert: tc.f}, Options{RequestClientCert: tc.opt})
		handshake(mta)
		deadline := time.Now().Add(2 * time.Second)
		for certs.Load() != tc.certs && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := certs.Load(); got != tc.certs {
			t.Errorf("%s: %d certificates seen, want %d", tc.name, got, tc.certs)
		}
	}
}
