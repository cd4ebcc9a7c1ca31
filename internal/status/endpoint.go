package status

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"postern/internal/config"
	"postern/internal/tlsutil"
)

// Endpoint is how a command reaches the running server's admin
// listener: its address and, with [admin] tls, the certificate the
// server serves it with (the command trusts exactly that one).
type Endpoint struct {
	Address string
	// TLS is nil for plain HTTP.
	TLS *tls.Config
}

// AdminOf is the admin listener cfg configures. With [admin] tls it
// reads the server's certificate ([tls] cert, or the one postern
// generated in the data dir); one it cannot read leaves TLS set with no
// trusted roots, so the request fails rather than going out in clear.
func AdminOf(cfg *config.Config) Endpoint {
	e := Endpoint{Address: cfg.Admin.Address}
	if !cfg.Admin.TLS {
		return e
	}
	cert := cfg.TLS.Cert
	if cert == "" {
		cert, _ = tlsutil.SelfSignedPaths(cfg.DataDir)
	}
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(cert); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	e.TLS = &tls.Config{RootCAs: pool, ServerName: cfg.Hostname, MinVersion: tls.VersionTLS12}
	return e
}

func (e Endpoint) url(path string) string {
	if e.TLS != nil {
		return "https://" + e.Address + path
	}
	return "http://" + e.Address + path
}

func (e Endpoint) client() *http.Client {
	c := &http.Client{Timeout: adminTimeout}
	if e.TLS != nil {
		c.Transport = &http.Transport{TLSClientConfig: e.TLS}
	}
	return c
}

// String names the endpoint in messages.
func (e Endpoint) String() string {
	if e.TLS != nil {
		return fmt.Sprintf("%s (TLS)", e.Address)
	}
	return e.Address
}
