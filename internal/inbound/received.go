package inbound

import (
	"strings"
	"time"

	"postern/internal/envelope"
)

// receivedHeader builds the trace header (RFC 5321 4.4) that postern adds
// to each message, with the protocol keyword of RFC 3848 and the TLS
// version and cipher when TLS was used.
func receivedHeader(hostname string, env *envelope.Envelope, ehlo bool, now time.Time) []byte {
	if !env.ClientIP.IsValid() {
		return localReceived(hostname, env, now)
	}
	proto := "SMTP"
	if ehlo {
		proto = "ESMTP"
		if env.TLS != "" {
			proto += "S"
		}
		if env.AuthUser != "" {
			proto += "A"
		}
	}
	if env.SMTPUTF8 {
		proto = "UTF8" + proto
	}
	var b strings.Builder
	b.WriteString("Received: from ")
	b.WriteString(headerSafe(env.Helo))
	b.WriteString(" (")
	if env.ClientName != "" {
		b.WriteString(env.ClientName + " ")
	}
	b.WriteString("[" + env.ClientIP.String() + "])\r\n\tby ")
	b.WriteString(hostname)
	b.WriteString(" with " + proto + " id " + env.ID)
	if env.TLS != "" {
		version, cipher, _ := strings.Cut(env.TLS, " ")
		b.WriteString("\r\n\t(using " + version + " with cipher " + cipher + ")")
	}
	if len(env.Rcpts) == 1 {
		b.WriteString("\r\n\tfor <" + headerSafe(env.Rcpts[0].Addr) + ">")
	}
	b.WriteString("; " + now.Format(time.RFC1123Z) + "\r\n")
	return []byte(b.String())
}

// headerSafe keeps client-supplied words from breaking the header.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r == 0x7f || r == '(' || r == ')' || r == ';' {
			return '_'
		}
		return r
	}, s)
}

// localReceived is the trace header of a local submission (postern
// sendmail): no client address, the local user instead, as Postfix's
// pickup writes "(from userid N)". RFC 5321 4.4: the FROM clause names
// a network peer, so it is left out.
func localReceived(hostname string, env *envelope.Envelope, now time.Time) []byte {
	var b strings.Builder
	b.WriteString("Received: by " + hostname + " (postern")
	if env.AuthUser != "" {
		b.WriteString(", from local user " + headerSafe(env.AuthUser))
	}
	b.WriteString(")\r\n\tid " + env.ID)
	if len(env.Rcpts) == 1 {
		b.WriteString("\r\n\tfor <" + headerSafe(env.Rcpts[0].Addr) + ">")
	}
	b.WriteString("; " + now.Format(time.RFC1123Z) + "\r\n")
	return []byte(b.String())
}
