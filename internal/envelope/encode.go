package envelope

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The encoded form of an Envelope is plain text, one field per line, so
// that a queue file can be read with less(1):
//
//	postern-envelope 1
//	id "0D9G..."
//	from "alice@example.org"
//	received 1763686800123456789
//	rcpt "bob@example.test" "rfc822;bob@example.test" "FAILURE"
//	rcpt "dave@remote.test" "" "" forwarded
//	.
//
// Every value except the numbers is a Go double-quoted string, so any byte
// can be stored and no value can end a line early. Decode is strict: an
// unknown or repeated field, a malformed value or a missing end line is an
// error, never a partial envelope.

const encodingHeader = "postern-envelope 1"

// maxRcpts bounds what Decode accepts, so that garbage cannot make it
// allocate without limit.
const maxRcpts = 100000

// Encode returns the envelope in its text form; Decode reverses it.
func (e *Envelope) Encode() []byte {
	var b strings.Builder
	b.Grow(256 + 64*len(e.Rcpts))
	b.WriteString(encodingHeader)
	b.WriteByte('\n')
	str := func(key, v string) {
		b.WriteString(key)
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(v))
		b.WriteByte('\n')
	}
	str("id", e.ID)
	str("from", e.From)
	if !e.Received.IsZero() {
		b.WriteString("received ")
		b.WriteString(strconv.FormatInt(e.Received.UnixNano(), 10))
		b.WriteByte('\n')
	}
	if e.ClientIP.IsValid() {
		str("client-ip", e.ClientIP.String())
	}
	optional := []struct{ key, v string }{
		{"client-name", e.ClientName}, {"helo", e.Helo}, {"auth", e.AuthUser},
		{"tls", e.TLS}, {"listener", e.Listener}, {"body", e.Body},
		{"ret", e.DSNRet}, {"envid", e.EnvID}, {"folder", e.Folder},
	}
	for _, f := range optional {
		if f.v != "" {
			str(f.key, f.v)
		}
	}
	if e.SMTPUTF8 {
		b.WriteString("smtputf8 1\n")
	}
	if e.Hold {
		b.WriteString("hold 1\n")
	}
	if e.RequireTLS {
		b.WriteString("requiretls 1\n")
	}
	if e.TLSOptional {
		b.WriteString("tlsoptional 1\n")
	}
	b.WriteString("size ")
	b.WriteString(strconv.FormatInt(e.Size, 10))
	b.WriteByte('\n')
	for _, r := range e.Rcpts {
		b.WriteString("rcpt ")
		b.WriteString(strconv.Quote(r.Addr))
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(r.ORCPT))
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(r.Notify))
		if r.Forwarded {
			b.WriteString(" forwarded")
		}
		b.WriteByte('\n')
	}
	b.WriteString(".\n")
	return []byte(b.String())
}

// Decode parses what Encode produced. It returns an error, never a
// partial envelope, for anything else.
func Decode(data []byte) (*Envelope, error) {
	s := string(data)
	line, rest, ok := strings.Cut(s, "\n")
	if !ok || line != encodingHeader {
		return nil, errors.New("envelope: missing header line")
	}
	e := &Envelope{}
	seen := map[string]bool{}
	for n := 2; ; n++ {
		if rest == "" {
			return nil, errors.New("envelope: missing end line")
		}
		line, rest, ok = strings.Cut(rest, "\n")
		if !ok {
			return nil, fmt.Errorf("envelope: line %d: no newline", n)
		}
		if line == "." {
			if rest != "" {
				return nil, fmt.Errorf("envelope: line %d: data after end line", n)
			}
			break
		}
		key, val, _ := strings.Cut(line, " ")
		if key != "rcpt" {
			if seen[key] {
				return nil, fmt.Errorf("envelope: line %d: repeated field %q", n, key)
			}
			seen[key] = true
		}
		if err := e.decodeField(key, val); err != nil {
			return nil, fmt.Errorf("envelope: line %d: %s: %w", n, key, err)
		}
	}
	if !seen["id"] {
		return nil, errors.New("envelope: no id")
	}
	if !seen["from"] {
		return nil, errors.New("envelope: no from")
	}
	return e, nil
}

func (e *Envelope) decodeField(key, val string) error {
	var err error
	switch key {
	case "id":
		e.ID, err = unquoteAll(val)
	case "from":
		e.From, err = unquoteAll(val)
	case "received":
		var ns int64
		ns, err = strconv.ParseInt(val, 10, 64)
		e.Received = time.Unix(0, ns)
	case "client-ip":
		var s string
		if s, err = unquoteAll(val); err == nil {
			e.ClientIP, err = netip.ParseAddr(s)
		}
	case "client-name":
		e.ClientName, err = unquoteAll(val)
	case "helo":
		e.Helo, err = unquoteAll(val)
	case "auth":
		e.AuthUser, err = unquoteAll(val)
	case "tls":
		e.TLS, err = unquoteAll(val)
	case "listener":
		e.Listener, err = unquoteAll(val)
	case "body":
		e.Body, err = unquoteAll(val)
	case "ret":
		e.DSNRet, err = unquoteAll(val)
	case "envid":
		e.EnvID, err = unquoteAll(val)
	case "smtputf8":
		if val != "1" {
			return errors.New("want 1")
		}
		e.SMTPUTF8 = true
	case "hold":
		if val != "1" {
			return errors.New("want 1")
		}
		e.Hold = true
	case "requiretls":
		if val != "1" {
			return errors.New("want 1")
		}
		e.RequireTLS = true
	case "tlsoptional":
		if val != "1" {
			return errors.New("want 1")
		}
		e.TLSOptional = true
	case "folder":
		e.Folder, err = unquoteAll(val)
	case "size":
		e.Size, err = strconv.ParseInt(val, 10, 64)
		if err == nil && e.Size < 0 {
			err = errors.New("negative")
		}
	case "rcpt":
		if len(e.Rcpts) >= maxRcpts {
			return errors.New("too many recipients")
		}
		var q []string
		fwd := strings.HasSuffix(val, `" forwarded`)
		if fwd {
			val = strings.TrimSuffix(val, " forwarded")
		}
		q, err = unquoteFields(val, 3)
		if err == nil {
			e.Rcpts = append(e.Rcpts, Recipient{Addr: q[0], ORCPT: q[1], Notify: q[2], Forwarded: fwd})
		}
	default:
		return errors.New("unknown field")
	}
	return err
}

// unquoteAll parses val as exactly one double-quoted string.
func unquoteAll(val string) (string, error) {
	q, err := unquoteFields(val, 1)
	if err != nil {
		return "", err
	}
	return q[0], nil
}

// unquoteFields parses val as n double-quoted strings separated by single
// spaces.
func unquoteFields(val string, n int) ([]string, error) {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i > 0 {
			if !strings.HasPrefix(val, " ") {
				return nil, errors.New("want a space between values")
			}
			val = val[1:]
		}
		if !strings.HasPrefix(val, `"`) {
			return nil, errors.New("want a double-quoted value")
		}
		q, err := strconv.QuotedPrefix(val)
		if err != nil {
			return nil, errors.New("bad quoted value")
		}
		s, err := strconv.Unquote(q)
		if err != nil {
			return nil, errors.New("bad quoted value")
		}
		out = append(out, s)
		val = val[len(q):]
	}
	if val != "" {
		return nil, errors.New("trailing data")
	}
	return out, nil
}
