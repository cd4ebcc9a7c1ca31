package audit

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
	"strings"
	"time"
)

// stsFetch is the outcome of fetching a policy file.
type stsFetch struct {
	URL      string
	Status   string // HTTP status line, "" when no response
	Body     string
	Evidence []string
}

// fetchSTSPolicy fetches https://mta-sts.DOMAIN/.well-known/mta-sts.txt
// as RFC 8461 3.3 asks: HTTPS with a certificate valid for that name, no
// redirects, Content-Type text/plain, a bounded size.
func fetchSTSPolicy(ctx context.Context, client *http.Client, domain string) (*stsFetch, error) {
	f := &stsFetch{URL: "https://mta-sts." + domain + "/.well-known/mta-sts.txt"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return f, err
	}
	f.Evidence = append(f.Evidence, "GET "+f.URL)
	// RFC 8461 3.3: redirects are not followed, whatever the client.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return f, err
	}
	defer resp.Body.Close()
	f.Status = resp.Status
	f.Evidence = append(f.Evidence, "HTTP "+resp.Status+", Content-Type: "+resp.Header.Get("Content-Type"))
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		crt := resp.TLS.PeerCertificates[0]
		names := crt.DNSNames
		if len(names) > 4 {
			names = append(names[:4:4], fmt.Sprintf("and %d more", len(crt.DNSNames)-4))
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("certificate for %s, issued by %s, valid until %s", strings.Join(names, ", "), crt.Issuer.CommonName, crt.NotAfter.UTC().Format(time.DateOnly)))
	}
	// RFC 8461 3.3: senders must not follow redirects; only 200 counts.
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" {
			return f, fmt.Errorf("HTTP %s redirecting to %s (senders do not follow redirects)", resp.Status, loc)
		}
		return f, fmt.Errorf("HTTP %s", resp.Status)
	}
	// RFC 8461 3.3: the media type is "text/plain".
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/plain" {
		return f, fmt.Errorf("Content-Type %q, not text/plain", ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, stsMaxPolicy+1))
	if err != nil {
		return f, fmt.Errorf("reading the policy: %w", err)
	}
	if len(body) > stsMaxPolicy {
		return f, fmt.Errorf("the policy is over %d bytes", stsMaxPolicy)
	}
	f.Body = string(body)
	return f, nil
}

// stsClient is the client that fetches MTA-STS policies: opt.HTTPClient
// when set, else one that resolves through opt.Resolver, connects only
// to loopback unless remote targets are allowed, verifies against the
// system roots, follows no redirect and gives up after the timeout.
func (o *Options) stsClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	d := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if o.Resolver == nil {
				return nil, errors.New("no resolver to look up " + host)
			}
			ips, err := o.Resolver.LookupIPAddr(ctx, host)
			if err != nil {
				return nil, err
			}
			var last error = fmt.Errorf("%s has no address", host)
			for _, ip := range ips {
				if !ip.IP.IsLoopback() && !o.AllowRemote {
					last = fmt.Errorf("%s (%s): %w", host, ip.IP, ErrNotLoopback)
					continue
				}
				c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		},
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		DisableKeepAlives:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// isCertError reports whether err is a certificate verification failure.
func isCertError(err error) bool {
	var ce *tls.CertificateVerificationError
	var he x509.HostnameError
	var ue x509.UnknownAuthorityError
	var ie x509.CertificateInvalidError
	return errors.As(err, &ce) || errors.As(err, &he) || errors.As(err, &ue) || errors.As(err, &ie)
}
