package console

import (
	"crypto/subtle"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"net/url"
)

// CSP allows the console's own style sheet, its inline SVG and its own
// forms, and nothing else: no script at all, no frames, no other origin.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// secureHeaders are set on every answer of the console.
func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer a browser sends
	// "Origin: null" on the console's own forms, and no page of another
	// site learns a console address either way.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// maxForm bounds a posted form.
const maxForm = 16 << 10

// parsePost reads a POST form, at most maxForm bytes, and refuses one
// sent from another origin: a browser says where a form came from in
// Origin (or at least Referer); SameSite=Strict and the CSRF token are
// the other two locks.
func parsePost(w http.ResponseWriter, r *http.Request) bool {
	if !sameOrigin(r) {
		http.Error(w, "forbidden: the form was sent from another site", http.StatusForbidden)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request: the form cannot be read", http.StatusBadRequest)
		return false
	}
	return true
}

// sameOrigin reports whether the browser says the form came from the
// console: Sec-Fetch-Site where it is sent (same-origin, or none for a
// user's own navigation), else Origin (or, without it, Referer) naming
// this host; "Origin: null" (an opaque origin) is refused. A request
// with none of them (not a browser's form) is let through to the CSRF
// check.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "same-site", "cross-site":
		return false
	}
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true
	}
	u, err := url.Parse(src)
	return err == nil && u.Host == r.Host
}

// checkCSRF compares the form's token with the session's in constant
// time.
func checkCSRF(r *http.Request, s *session) bool {
	got := r.PostForm.Get("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// clientIP is the address the request came from (the admin listener is
// reached directly, or through an ssh tunnel: no proxy headers are
// believed).
func clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}

// ListenerTLS is the admin listener's TLS: with [admin] tls on, a copy of
// the server's certificate configuration; otherwise none (loopback only,
// as config.Load makes sure). Without a server certificate it fails
// closed: a configuration with none, so every handshake fails.
func ListenerTLS(on bool, server *tls.Config) *tls.Config {
	if !on {
		return nil
	}
	if server == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c := server.Clone()
	c.NextProtos = []string{"http/1.1"}
	return c
}
