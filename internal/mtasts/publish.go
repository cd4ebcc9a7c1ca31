package mtasts

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Text writes p as a policy file (RFC 8461 3.2), CRLF line ends; it is
// what ParsePolicy reads.
func (p *Policy) Text() string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\n")
	fmt.Fprintf(&b, "mode: %s\r\n", p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\r\n", mx)
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", p.MaxAge)
	return b.String()
}

// PolicyID is the id= for a policy file: it changes whenever the file
// does, so that senders fetch it again (RFC 8461 3.1), and it is the same
// on every node that serves the same file.
func PolicyID(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:10])
}

// RecordText is the _mta-sts TXT record for a policy file.
func RecordText(body string) string { return "v=STSv1; id=" + PolicyID(body) }

// Handler serves our policy file at /.well-known/mta-sts.txt to requests
// for mta-sts.<domain> for each of domains (lower case), as RFC 8461 3.3
// asks: 200, text/plain, nothing else; other names and paths get 404.
func Handler(domains []string, body string) http.Handler {
	hosts := map[string]bool{}
	for _, d := range domains {
		hosts[PolicyHost(d)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(host, ".")
		if !hosts[host] || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprint(w, body)
	})
}

// OwnPolicy is the text of our own policy file: mode, the MX patterns
// (left out for mode none) and max_age.
func OwnPolicy(mode string, mx []string, maxAge time.Duration) string {
	p := &Policy{Mode: Mode(mode), MX: mx, MaxAge: int64(maxAge / time.Second)}
	if p.Mode == None {
		p.MX = nil
	}
	return p.Text()
}

// Serve serves our policy file for domains over HTTPS on ln, with tlsConf
// (the mail server's certificate), until ctx ends; bounded timeouts and
// header size, HTTP/1.1 only.
func Serve(ctx context.Context, ln net.Listener, tlsConf *tls.Config, domains []string, body string) error {
	srv := &http.Server{
		Handler:           Handler(domains, body),
		TLSConfig:         tlsConf.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	srv.TLSConfig.NextProtos = []string{"http/1.1"}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
