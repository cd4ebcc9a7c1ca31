package mtasts

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"testing"
	"time"

	"postern/internal/tlsutil"
)

// Our own policy, served by Serve, is what a sending server fetches and
// parses back, and Serve ends with its context.
func TestServeOwnPolicy(t *testing.T) {
	dir := t.TempDir()
	conf, err := tlsutil.Load("", "", dir, "mta-sts.example.org")
	if err != nil {
		t.Fatal(err)
	}
	certFile, _ := tlsutil.SelfSignedPaths(dir)
	data, _ := os.ReadFile(certFile)
	b, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	body := OwnPolicy("enforce", []string{"mx.example.org"}, 14*24*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, conf, []string{"example.org"}, body) }()
	resp, err := Fetch(context.Background(), NewClient(toPort(port), pool, 5*time.Second), "example.org", 5*time.Second)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	p, err := ParsePolicy(resp.Body)
	if err != nil || p.Mode != Enforce || len(p.MX) != 1 || p.MX[0] != "mx.example.org" || p.MaxAge != 1209600 {
		t.Errorf("policy served: %+v %v\n%s", p, err, resp.Body)
	}
	if none := OwnPolicy("none", []string{"mx.example.org"}, time.Hour); !(len(none) > 0 && !containsMX(none)) {
		t.Errorf("mode none keeps mx lines: %q", none)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end with its context")
	}
}

func containsMX(s string) bool {
	p, err := ParsePolicy(s)
	return err != nil || len(p.MX) > 0
}
