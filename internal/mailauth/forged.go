package mailauth

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// maxHeaderBytes bounds the header section read when removing fields.
const maxHeaderBytes = 1 << 20

// authservID returns the authserv-id of an Authentication-Results value
// (RFC 8601 2.2: authserv-id [ CFWS authres-version ] ";" ...), lower case.
func authservID(value string) string {
	v := strings.TrimSpace(value)
	// Leading comments are CFWS; drop them.
	for strings.HasPrefix(v, "(") {
		end := strings.IndexByte(v, ')')
		if end < 0 {
			return ""
		}
		v = strings.TrimSpace(v[end+1:])
	}
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	if f := strings.Fields(v); len(f) > 0 {
		return strings.ToLower(strings.Trim(f[0], `"`))
	}
	return ""
}

// claimsOurs reports whether any Authentication-Results value carries
// our authserv-id.
func claimsOurs(values []string, id string) bool {
	for _, v := range values {
		if authservID(v) == strings.ToLower(id) {
			return true
		}
	}
	return false
}

// stripForged copies the message from r to w without the
// Authentication-Results fields that carry authserv-id id, and returns
// how many it left out. RFC 8601 5: a border MTA removes results that
// claim to come from itself, since it did not write them.
func stripForged(w io.Writer, r io.Reader, id string) (int, error) {
	br := bufio.NewReader(r)
	id = strings.ToLower(id)
	removed := 0
	var field bytes.Buffer
	read := 0
	flush := func() error {
		if field.Len() == 0 {
			return nil
		}
		drop := false
		name, value, ok := bytes.Cut(field.Bytes(), []byte(":"))
		if ok && strings.EqualFold(strings.TrimSpace(string(name)), "Authentication-Results") {
			// Unfold: a CRLF before white space is not part of the value.
			v := strings.NewReplacer("\r\n", "", "\n", "").Replace(string(value))
			drop = authservID(v) == id
		}
		var err error
		if drop {
			removed++
		} else {
			_, err = w.Write(field.Bytes())
		}
		field.Reset()
		return err
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: not a header we look at.
			var rest []byte
			rest, err = br.ReadBytes('\n')
			line = append(append([]byte(nil), line...), rest...)
		}
		read += len(line)
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return removed, flush()
			}
			return removed, err
		}
		if read > maxHeaderBytes {
			return removed, errors.New("header section too large")
		}
		switch {
		case line[0] == ' ' || line[0] == '\t':
			field.Write(line)
		case len(bytes.TrimRight(line, "\r\n")) == 0:
			// The blank line: the body follows untouched.
			if ferr := flush(); ferr != nil {
				return removed, ferr
			}
			if _, werr := w.Write(line); werr != nil {
				return removed, werr
			}
			_, err = io.Copy(w, br)
			return removed, err
		default:
			if ferr := flush(); ferr != nil {
				return removed, ferr
			}
			field.Write(line)
		}
		if err != nil {
			if err == io.EOF {
				return removed, flush()
			}
			return removed, err
		}
	}
}
