// Package smtp holds the wire vocabulary shared by the server and the
// client sides: reply codes, the Reply error type, strict path parsing and
// the CRLF-strict DATA reader and dot-stuffing writer.
package smtp

import (
	"fmt"
	"strconv"
	"strings"
)

// Reply is an SMTP reply that is also an error. Text is what the peer sees
// (generic words); Err is the cause, for the log only, never sent.
type Reply struct {
	Code     int    // three-digit reply code, e.g. 550
	Enhanced string // RFC 3463 enhanced status code, e.g. "5.7.1"; "" for none
	Text     string // one or more lines separated by "\n"; no CR or LF otherwise
	Err      error  // underlying cause, logged, never sent to the peer
}

// Error implements error; it includes the cause so that logs show it.
func (r *Reply) Error() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	s += " " + strings.ReplaceAll(r.Text, "\n", " / ")
	if r.Err != nil {
		s += ": " + r.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (r *Reply) Unwrap() error { return r.Err }

// Temporary reports whether the reply is a 4xx (transient) one.
func (r *Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports whether the reply is a 5xx (permanent) one.
func (r *Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// Positive reports whether the reply is a 2xx or 3xx one.
func (r *Reply) Positive() bool { return r.Code >= 200 && r.Code < 400 }

// Format renders the reply as it goes on the wire, each line ending in
// CRLF, multi-line replies with "-" continuation (RFC 5321 4.2.1). When
// enhanced is false the enhanced status code is left out (the client did
// not EHLO).
func (r *Reply) Format(enhanced bool) []byte {
	lines := strings.Split(r.Text, "\n")
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(strconv.Itoa(r.Code))
		if i == len(lines)-1 {
			b.WriteByte(' ')
		} else {
			b.WriteByte('-')
		}
		if enhanced && r.Enhanced != "" {
			b.WriteString(r.Enhanced)
			b.WriteByte(' ')
		}
		b.WriteString(sanitizeLine(l))
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// sanitizeLine removes control characters, so that no reply text can ever
// end a reply line early or inject a second reply.
func sanitizeLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Errorf builds a Reply with a formatted text.
func Errorf(code int, enhanced, format string, args ...any) *Reply {
	return &Reply{Code: code, Enhanced: enhanced, Text: fmt.Sprintf(format, args...)}
}

// Common replies.
var (
	ReplyOK               = &Reply{Code: 250, Enhanced: "2.0.0", Text: "OK"}
	ReplySyntax           = &Reply{Code: 500, Enhanced: "5.5.2", Text: "syntax error"}
	ReplyLineTooLong      = &Reply{Code: 500, Enhanced: "5.5.2", Text: "line too long"}
	ReplyBadSequence      = &Reply{Code: 503, Enhanced: "5.5.1", Text: "bad sequence of commands"}
	ReplyNotImplemented   = &Reply{Code: 502, Enhanced: "5.5.1", Text: "command not implemented"}
	ReplyTempFailure      = &Reply{Code: 451, Enhanced: "4.3.0", Text: "local error, try again later"}
	ReplyTooManyErrors    = &Reply{Code: 421, Enhanced: "4.7.0", Text: "too many errors, closing connection"}
	ReplyTimeout          = &Reply{Code: 421, Enhanced: "4.4.2", Text: "timeout, closing connection"}
	ReplyShuttingDown     = &Reply{Code: 421, Enhanced: "4.3.2", Text: "service shutting down, closing connection"}
	ReplyRelayDenied      = &Reply{Code: 550, Enhanced: "5.7.1", Text: "relay access denied"}
	ReplyNoSuchUser       = &Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user here"}
	ReplyTooManyRcpts     = &Reply{Code: 452, Enhanced: "4.5.3", Text: "too many recipients"}
	ReplyMessageTooBig    = &Reply{Code: 552, Enhanced: "5.3.4", Text: "message size exceeds fixed limit"}
	ReplyAuthRequired     = &Reply{Code: 530, Enhanced: "5.7.0", Text: "authentication required"}
	ReplyEncryptionNeeded = &Reply{Code: 538, Enhanced: "5.7.11", Text: "encryption required for requested authentication mechanism"}
)

// Replies for malformed commands and arguments (RFC 3463 enhanced codes).
var (
	ReplyArgSyntax       = &Reply{Code: 501, Enhanced: "5.5.2", Text: "syntax error in parameters or arguments"}
	ReplyBadSenderSyntax = &Reply{Code: 501, Enhanced: "5.1.7", Text: "bad sender address syntax"}
	ReplyBadRcptSyntax   = &Reply{Code: 501, Enhanced: "5.1.3", Text: "bad recipient address syntax"}
	ReplyParamUnknown    = &Reply{Code: 555, Enhanced: "5.5.4", Text: "parameter not recognised or not implemented"}
	ReplyParamValue      = &Reply{Code: 501, Enhanced: "5.5.4", Text: "invalid parameter value"}
	ReplyNeedSMTPUTF8    = &Reply{Code: 553, Enhanced: "5.6.7", Text: "non-ASCII address requires SMTPUTF8"}
	ReplyBareLineEnd     = &Reply{Code: 550, Enhanced: "5.6.0", Text: "message rejected: bare CR or LF not allowed"}
	ReplyNUL             = &Reply{Code: 550, Enhanced: "5.6.0", Text: "message rejected: NUL not allowed"}
)

// With returns a copy of r carrying err as its cause. The shared replies
// above are never modified.
func (r *Reply) With(err error) *Reply {
	c := *r
	c.Err = err
	return &c
}
