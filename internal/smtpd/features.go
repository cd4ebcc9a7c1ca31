package smtpd

import "crypto/tls"

// Features change what the server offers one client: the access map's
// Srv_Features: entry, which a Session that implements Featurer gives.
// The zero value changes nothing.
type Features struct {
	NoSTARTTLS   bool // S: STARTTLS not offered (and refused)
	NoAUTH       bool // A: AUTH not offered (and refused)
	NoDSN        bool // D: DSN not offered, its parameters refused
	NoPipelining bool // P: PIPELINING not offered
	RequireAuth  bool // l: MAIL only after AUTH
	// ClientCert asks (1) or does not ask (-1) the client for a
	// certificate in the TLS handshake; 0 leaves Options.RequestClientCert.
	ClientCert int
}

// Featurer is implemented by a Session whose client gets Features other
// than the listener's.
type Featurer interface {
	Features() Features
}

// features are the session's Features; none before the session exists
// (the handshake of implicit TLS).
func (c *conn) features() Features {
	if f, ok := c.sess.(Featurer); ok {
		return f.Features()
	}
	return Features{}
}

// dsn reports whether DSN is offered to this client.
func (c *conn) dsn() bool { return c.srv.opts.DSN && !c.features().NoDSN }

// tlsConfig is the TLS server configuration for this client: the
// listener's, asking for a client certificate when Options or the
// client's Features say so. The certificate is not verified in the
// handshake (a client with an unknown CA still gets TLS); the session
// verifies it.
func (c *conn) tlsConfig() *tls.Config {
	ask := c.srv.opts.RequestClientCert
	switch c.features().ClientCert {
	case 1:
		ask = true
	case -1:
		ask = false
	}
	return c.srv.tlsFor(ask)
}

// tlsFor is Options.TLS, or its copy that asks for a client certificate.
func (s *Server) tlsFor(ask bool) *tls.Config {
	if !ask || s.opts.TLS == nil {
		return s.opts.TLS
	}
	s.askOnce.Do(func() {
		s.askTLS = s.opts.TLS.Clone()
		s.askTLS.ClientAuth = tls.RequestClientCert
	})
	return s.askTLS
}
