package audit

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// Own is what a postern configuration says about the server to audit,
// for `postern audit -config`.
type Own struct {
	Target     string // the first mta listener, with a wildcard host made loopback; "" when none
	Submission int    // port of the first submission listener; 0 without one but with an mta listener; -1 with neither
	Domain     string // the first local domain
}

// OwnServer works out Own from the addresses ("host:port") of a postern's
// mta and submission listeners, in their order, and its local domains.
// Addresses that do not parse are skipped.
func OwnServer(mta, submission, localDomains []string) Own {
	o := Own{Submission: -1}
	if len(localDomains) > 0 {
		o.Domain = localDomains[0]
	}
	for _, a := range mta {
		if host, port, ok := loopbackFor(a); ok {
			o.Target = net.JoinHostPort(host, port)
			break
		}
	}
	for _, a := range submission {
		if _, port, ok := loopbackFor(a); ok {
			fmt.Sscan(port, &o.Submission)
			if o.Submission >= 0 {
				break
			}
		}
	}
	if o.Target != "" && o.Submission < 0 {
		o.Submission = 0
	}
	return o
}

// loopbackFor splits a listener address, making a wildcard host the
// loopback address of its family.
func loopbackFor(addr string) (host, port string, ok bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", false
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return host, port, true
}

// LoopbackTarget reports whether target ("host[:port]") is a loopback
// address, which is on no public block list: the default lists would only
// answer with their test entries (127.0.0.2), so an audit of it checks
// none.
func LoopbackTarget(target string) bool {
	if h, _, err := net.SplitHostPort(target); err == nil {
		target = h
	}
	ip := net.ParseIP(target)
	return ip != nil && ip.IsLoopback()
}

// ReadRootCAs reads a PEM file of CA certificates to trust instead of the
// system roots.
func ReadRootCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
