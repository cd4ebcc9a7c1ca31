package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"
)

// DefaultTimeout bounds a fetch, and each step of NewClient's client,
// when the caller gives no timeout.
const DefaultTimeout = 20 * time.Second

// PolicyHost is the name that serves domain's policy file (RFC 8461 3.3).
func PolicyHost(domain string) string { return "mta-sts." + domain }

// PolicyURL is the address of domain's policy file (RFC 8461 3.3).
func PolicyURL(domain string) string {
	return "https://" + PolicyHost(domain) + "/.well-known/mta-sts.txt"
}

// Response is what a policy fetch received, as far as it got.
type Response struct {
	URL         string
	StatusCode  int    // 0 when no response came
	Status      string // e.g. "200 OK"
	ContentType string
	Location    string            // the Location header, set on redirects
	Certificate *x509.Certificate // the server's certificate; nil without TLS
	Body        string            // the policy file, when the fetch succeeded
}

// Fetch gets domain's policy file as RFC 8461 3.3 asks: GET PolicyURL over
// HTTPS with a certificate that was verified and is valid for PolicyHost,
// no redirect followed (whatever client's CheckRedirect), only a 200 with
// Content-Type text/plain, at most MaxPolicySize bytes, all within timeout
// (0 means DefaultTimeout). client makes the connection: NewClient builds
// one; tests pass a client that reaches a loopback server. The Response is
// nil when no request could be made; else it holds what came back, with
// the error too. The body is not parsed: see ParsePolicy.
func Fetch(ctx context.Context, client *http.Client, domain string, timeout time.Duration) (*Response, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	f := &Response{URL: PolicyURL(domain)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	// RFC 8461 3.3: redirects are not followed, whatever the client.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return f, err
	}
	defer resp.Body.Close()
	f.StatusCode, f.Status = resp.StatusCode, resp.Status
	f.ContentType = resp.Header.Get("Content-Type")
	f.Location = resp.Header.Get("Location")
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		f.Certificate = resp.TLS.PeerCertificates[0]
	}
	if err := f.check(resp.TLS, PolicyHost(domain)); err != nil {
		return f, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return f, fmt.Errorf("reading the policy: %w", err)
	}
	if len(body) > MaxPolicySize {
		return f, fmt.Errorf("the policy is over %d bytes", MaxPolicySize)
	}
	f.Body = string(body)
	return f, nil
}

// check applies RFC 8461 3.3's rules to the response's head: a verified
// certificate valid for host, status 200, Content-Type text/plain.
func (f *Response) check(cs *tls.ConnectionState, host string) error {
	// The client's TLS settings must not weaken the certificate check:
	// a chain to a trusted root, valid for the policy host.
	if cs == nil || f.Certificate == nil || len(cs.VerifiedChains) == 0 {
		return &tls.CertificateVerificationError{Err: errors.New("the certificate of " + host + " was not verified")}
	}
	if err := f.Certificate.VerifyHostname(host); err != nil {
		return &tls.CertificateVerificationError{Err: err}
	}
	// RFC 8461 3.3: senders must not follow redirects; only 200 counts.
	if f.StatusCode != http.StatusOK {
		if f.Location != "" {
			return fmt.Errorf("HTTP %s redirecting to %s (senders do not follow redirects)", f.Status, f.Location)
		}
		return fmt.Errorf("HTTP %s", f.Status)
	}
	// RFC 8461 3.3: the media type is "text/plain".
	if mt, _, err := mime.ParseMediaType(f.ContentType); err != nil || mt != "text/plain" {
		return fmt.Errorf("Content-Type %q, not text/plain", f.ContentType)
	}
	return nil
}

// IsCertError reports whether err is a certificate verification failure
// (for TLSRPT, RFC 8460 4.3: the sts-webpki-invalid kind).
func IsCertError(err error) bool {
	var ce *tls.CertificateVerificationError
	var he x509.HostnameError
	var ue x509.UnknownAuthorityError
	var ie x509.CertificateInvalidError
	return errors.As(err, &ce) || errors.As(err, &he) || errors.As(err, &ue) || errors.As(err, &ie)
}

// DialFunc connects to network address addr, as http.Transport's
// DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// NewClient returns a client for Fetch: it connects with dial (nil: a
// plain net.Dialer), verifies certificates against roots (nil: the system
// roots), speaks TLS 1.2 or newer, uses no proxy and no keep-alive,
// follows no redirect, and gives up after timeout (0: DefaultTimeout).
func NewClient(dial DialFunc, roots *x509.CertPool, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dial == nil {
		dial = (&net.Dialer{Timeout: timeout}).DialContext
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dial,
			TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			DisableKeepAlives:     true,
		},
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Resolver looks up a policy host's addresses; postern's dns.Resolver is
// one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Dialer connects to the policy host through Resolver, not the system's
// resolver, trying its addresses in order. Its DialContext is a DialFunc.
type Dialer struct {
	Resolver Resolver
	// Allow, when set, vets each address before it is dialled; when it
	// refuses every address, its last error is returned.
	Allow func(host string, ip net.IP) error
	// Timeout bounds each connection attempt; 0 means DefaultTimeout.
	Timeout time.Duration
}

// DialContext resolves addr's host through d.Resolver and connects to the
// first address that Allow accepts and that answers.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if d.Resolver == nil {
		return nil, errors.New("no resolver to look up " + host)
	}
	ips, err := d.Resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	nd := &net.Dialer{Timeout: timeout}
	var last error = fmt.Errorf("%s has no address", host)
	for _, ip := range ips {
		if d.Allow != nil {
			if err := d.Allow(host, ip.IP); err != nil {
				last = err
				continue
			}
		}
		c, err := nd.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
