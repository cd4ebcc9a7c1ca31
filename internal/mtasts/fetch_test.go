package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/testpeer"
)

// policyServer is an HTTPS server on loopback with a certificate for
// names, and the port it listens on.
func policyServer(t *testing.T, h http.Handler, names ...string) (*x509.CertPool, string) {
	t.Helper()
	return testpeer.StartHTTPS(t, h, names...)
}

// toPort is a DialFunc that sends every connection to 127.0.0.1:port,
// whatever name and port Fetch asks for.
func toPort(port string) DialFunc {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
}

const goodPolicy = "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 1209600\n"

func TestFetch(t *testing.T) {
	type answer struct {
		status int
		ctype  string // "-" sends none
		body   string
		header map[string]string
	}
	var followed atomic.Int32
	answers := map[string]answer{
		"ok.test":        {200, "text/plain; charset=utf-8", goodPolicy, nil},
		"exact.test":     {200, "text/plain", strings.Repeat("x", MaxPolicySize), nil},
		"notfound.test":  {404, "text/plain", "no", nil},
		"error.test":     {500, "text/plain", "", nil},
		"redirect.test":  {301, "text/plain", "", map[string]string{"Location": "https://mta-sts.ok.test/moved"}},
		"html.test":      {200, "text/html", goodPolicy, nil},
		"noctype.test":   {200, "-", goodPolicy, nil},
		"badctype.test":  {200, "text/plain; =", goodPolicy, nil},
		"big.test":       {200, "text/plain", strings.Repeat("x", MaxPolicySize+1), nil},
		"wrongname.test": {200, "text/plain", goodPolicy, nil},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			followed.Add(1)
		}
		a, ok := answers[strings.TrimPrefix(r.Host, "mta-sts.")]
		if !ok || r.Method != http.MethodGet || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		if a.ctype == "-" {
			w.Header()["Content-Type"] = nil // no sniffing either
		} else {
			w.Header().Set("Content-Type", a.ctype)
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	})
	var names []string
	for d := range answers {
		if d != "wrongname.test" {
			names = append(names, "mta-sts."+d)
		}
	}
	pool, port := policyServer(t, h, names...)
	client := NewClient(toPort(port), pool, 10*time.Second)
	cases := []struct {
		domain string
		err    string // substring; "" means fetched
		cert   bool   // a certificate error
		status int    // the Response's status code
	}{
		{"ok.test", "", false, 200},
		{"exact.test", "", false, 200},
		{"notfound.test", "HTTP 404 Not Found", false, 404},
		{"error.test", "HTTP 500", false, 500},
		{"redirect.test", "HTTP 301 Moved Permanently redirecting to https://mta-sts.ok.test/moved (senders do not follow redirects)", false, 301},
		{"html.test", "Content-Type \"text/html\", not text/plain", false, 200},
		{"noctype.test", "Content-Type \"\", not text/plain", false, 200},
		{"badctype.test", "not text/plain", false, 200},
		{"big.test", "the policy is over 65536 bytes", false, 200},
		{"wrongname.test", "certificate", true, 0},
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			f, err := Fetch(context.Background(), client, c.domain, 10*time.Second)
			if f == nil || f.URL != "https://mta-sts."+c.domain+"/.well-known/mta-sts.txt" || f.StatusCode != c.status {
				t.Fatalf("response %+v, want status %d", f, c.status)
			}
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if f.Body != answers[c.domain].body || f.Certificate == nil || f.Certificate.DNSNames[0] == "" {
					t.Errorf("body %d bytes, certificate %v", len(f.Body), f.Certificate)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) || IsCertError(err) != c.cert {
				t.Fatalf("err %v, want %q (certificate error %v)", err, c.err, c.cert)
			}
			if f.Body != "" {
				t.Error("a body with the error")
			}
		})
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	// A client that follows redirects is overruled.
	follower := NewClient(toPort(port), pool, 10*time.Second)
	follower.CheckRedirect = nil
	if _, err := Fetch(context.Background(), follower, "redirect.test", 0); err == nil || followed.Load() != 0 {
		t.Errorf("redirect followed (%d): %v", followed.Load(), err)
	}
}

// TestFetchCertificate: whatever the client's TLS settings, the
// certificate must have been verified, for the policy host.
func TestFetchCertificate(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, goodPolicy)
	})
	pool, port := policyServer(t, h, "mta-sts.other.test")
	insecure := &http.Client{Transport: &http.Transport{DialContext: toPort(port),
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	other := &http.Client{Transport: &http.Transport{DialContext: toPort(port),
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "mta-sts.other.test"}}}
	for name, c := range map[string]*http.Client{"no verification": insecure, "another name": other} {
		f, err := Fetch(context.Background(), c, "example.test", 5*time.Second)
		if err == nil || !IsCertError(err) || f == nil || f.Certificate == nil || f.Body != "" {
			t.Errorf("%s: %+v, %v", name, f, err)
		}
	}
	// The same server, asked for the name it has, is fine.
	if f, err := Fetch(context.Background(), NewClient(toPort(port), pool, 0), "other.test", 0); err != nil || f.Body != goodPolicy {
		t.Errorf("good certificate: %+v, %v", f, err)
	}
	// No TLS at all: a transport that answers without it.
	plain := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"text/plain"}},
			Body: io.NopCloser(strings.NewReader(goodPolicy)), Request: r}, nil
	})}
	if _, err := Fetch(context.Background(), plain, "example.test", 0); err == nil || !IsCertError(err) {
		t.Errorf("without TLS: %v", err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	pool, port := policyServer(t, h, "mta-sts.slow.test")
	defer close(release)
	start := time.Now()
	// The client would wait a minute; Fetch's timeout wins.
	_, err := Fetch(context.Background(), NewClient(toPort(port), pool, time.Minute), "slow.test", 300*time.Millisecond)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	// And the caller's context too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fetch(ctx, NewClient(toPort(port), pool, 0), "slow.test", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestFetchBadDomain(t *testing.T) {
	f, err := Fetch(context.Background(), NewClient(nil, nil, 0), "a b%zz", 0)
	if err == nil || f != nil {
		t.Fatalf("%+v, %v", f, err)
	}
}

// fakeResolver answers LookupIPAddr from a map; a missing name is an
// error.
type fakeResolver map[string][]string

func (r fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	errRefused := errors.New("refused")
	var vetted []string
	onlyLoopback := func(host string, ip net.IP) error {
		vetted = append(vetted, ip.String())
		if !ip.IsLoopback() {
			return fmt.Errorf("%s (%s): %w", host, ip, errRefused)
		}
		return nil
	}
	res := fakeResolver{"mixed.test": {"192.0.2.1", "127.0.0.1"}, "remote.test": {"192.0.2.1"}, "empty.test": {}}
	d := &Dialer{Resolver: res, Allow: onlyLoopback, Timeout: 5 * time.Second}
	c, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort("mixed.test", port))
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != ln.Addr().String() || strings.Join(vetted, " ") != "192.0.2.1 127.0.0.1" {
		t.Errorf("connected to %s after vetting %v", c.RemoteAddr(), vetted)
	}
	c.Close()
	for _, tc := range []struct {
		d    *Dialer
		addr string
		err  string
	}{
		{d, "remote.test:" + port, "remote.test (192.0.2.1): refused"},
		{d, "empty.test:" + port, "empty.test has no address"},
		{d, "missing.test:" + port, "no such host"},
		{d, "no-port.test", "missing port"},
		{&Dialer{}, "mixed.test:" + port, "no resolver to look up mixed.test"},
	} {
		c, err := tc.d.DialContext(context.Background(), "tcp", tc.addr)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, %v; want %q", tc.addr, c, err, tc.err)
		}
	}
}

// TestDialerFetch: NewClient with a Dialer resolves the policy host
// through the resolver it was given, not the system's.
func TestDialerFetch(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, goodPolicy)
	})
	pool, port := policyServer(t, h, "mta-sts.example.test")
	d := &Dialer{Resolver: fakeResolver{"mta-sts.example.test": {"127.0.0.1"}}}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, net.JoinHostPort(host, port)) // the test server, not 443
	}
	f, err := Fetch(context.Background(), NewClient(dial, pool, 5*time.Second), "example.test", 0)
	if err != nil || f.Body != goodPolicy {
		t.Fatalf("%+v, %v", f, err)
	}
	p, err := ParsePolicy(f.Body)
	if err != nil || !p.Matches("mx1.example.test") {
		t.Fatalf("%+v, %v", p, err)
	}
	if _, err := Fetch(context.Background(), NewClient(dial, pool, 5*time.Second), "unknown.test", 0); err == nil || IsCertError(err) {
		t.Fatalf("unknown policy host: %v", err)
	}
}
