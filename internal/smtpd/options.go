package smtpd

import (
	"crypto/tls"
	"time"
)

// Mode is what a listener is for.
type Mode int

const (
	// ModeMTA takes mail from other servers (port 25): no AUTH.
	ModeMTA Mode = iota
	// ModeSubmission takes mail from users (port 587): STARTTLS, then AUTH
	// before MAIL.
	ModeSubmission
	// ModeSMTPS is submission with implicit TLS (port 465).
	ModeSMTPS
	// ModeLocal takes mail from programs on this host through a unix
	// socket (postern sendmail): no STARTTLS, no AUTH; the client is the
	// local user the kernel names (ConnInfo.PeerUID), so MAIL needs no
	// AUTH.
	ModeLocal
)

func (m Mode) String() string {
	switch m {
	case ModeSubmission:
		return "submission"
	case ModeSMTPS:
		return "smtps"
	case ModeLocal:
		return "local"
	}
	return "mta"
}

// ParseMode maps the configuration word to a Mode.
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "mta":
		return ModeMTA, true
	case "submission":
		return ModeSubmission, true
	case "smtps":
		return ModeSMTPS, true
	case "local":
		return ModeLocal, true
	}
	return ModeMTA, false
}

// Options are the server's settings; zero values mean the documented
// defaults.
type Options struct {
	Hostname string      // name in the greeting and EHLO reply; "" means "localhost"
	TLS      *tls.Config // nil: no STARTTLS, no smtps, no AUTH
	// RequestClientCert asks every client for a certificate in the TLS
	// handshake (a client's Features may say otherwise); the session
	// verifies what it gets.
	RequestClientCert bool

	MaxMessageBytes int64 // 0 means 35 MiB (36700160); announced in SIZE
	// RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients.
	MaxRecipients int // 0 means 100
	MaxErrors     int // client errors before 421 and close; 0 means 20
	// RFC 5321 4.5.3.1.4: 512 octets including CRLF. MAIL and RCPT may be
	// 512 octets longer, for their ESMTP parameters.
	MaxLineLength int // 0 means 512

	// RFC 5321 4.5.3.2.7: the server timeout should be at least 5 minutes.
	CommandTimeout time.Duration // 0 means 5m
	// RFC 5321 4.5.3.2.6 suggests 10 minutes for the whole DATA.
	DataTimeout time.Duration // 0 means 10m
	TLSTimeout  time.Duration // TLS handshake; 0 means 30s

	DSN      bool // offer DSN (RFC 3461)
	Chunking bool // offer CHUNKING/BDAT (RFC 3030)
}

func (o *Options) withDefaults() {
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 36700160
	}
	if o.MaxRecipients == 0 {
		o.MaxRecipients = 100
	}
	if o.MaxErrors == 0 {
		o.MaxErrors = 20
	}
	if o.MaxLineLength < 512 {
		o.MaxLineLength = 512
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = 5 * time.Minute
	}
	if o.DataTimeout == 0 {
		o.DataTimeout = 10 * time.Minute
	}
	if o.TLSTimeout == 0 {
		o.TLSTimeout = 30 * time.Second
	}
}
