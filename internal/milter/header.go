package milter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// field is one header field as it is in the message: "Name:value" with
// its continuation lines and the final CRLF.
type field struct {
	name string
	raw  string
}

// value is what milters get: the text after the colon without the one
// space that conventionally follows it (sendmail's form, unless the milter
// asks for the leading space), continuation lines joined by LF as
// sendmail and Postfix pass them.
func (f field) value(leadingSpace bool) string {
	v := f.raw[len(f.name)+1:]
	v = strings.TrimSuffix(v, "\r\n")
	if !leadingSpace {
		v = strings.TrimPrefix(v, " ")
	}
	return strings.ReplaceAll(v, "\r\n", "\n")
}

// maxHeaderBytes bounds the header section read into memory; the rest
// of a monstrous header counts as body (RFC 5322 sets no limit; 1 MiB of
// fields is far beyond any real message).
const maxHeaderBytes = 1 << 20

// splitHeader reads the header section of a message with CRLF line ends.
// It returns the fields and the offset where the body starts (after the
// empty line, when there is one). A line that is neither a field nor a
// continuation ends the header section there, as sendmail treats it.
func splitHeader(r io.Reader) (fields []field, bodyStart int64, err error) {
	br := bufio.NewReader(r)
	var off int64
	for {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, 0, err
		}
		if line == "" {
			return fields, off, nil
		}
		switch {
		case line == "\r\n" || line == "\n":
			return fields, off + int64(len(line)), nil
		case line[0] == ' ' || line[0] == '\t':
			if len(fields) == 0 || off+int64(len(line)) > maxHeaderBytes {
				return fields, off, nil
			}
			fields[len(fields)-1].raw += line
		default:
			name, ok := fieldName(line)
			if !ok || off+int64(len(line)) > maxHeaderBytes {
				return fields, off, nil
			}
			fields = append(fields, field{name: name, raw: line})
		}
		off += int64(len(line))
		if err == io.EOF {
			// A last line without CRLF: keep it a field, but end it.
			f := &fields[len(fields)-1]
			if !strings.HasSuffix(f.raw, "\n") {
				f.raw += "\r\n"
			}
			return fields, off, nil
		}
	}
}

// fieldName returns the name of a field line: RFC 5322 2.2: printable
// US-ASCII except colon, followed by a colon.
func fieldName(line string) (string, bool) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return "", false
	}
	if !validName(line[:i]) {
		return "", false
	}
	return line[:i], true
}

// validName checks a field name. RFC 5322 3.6.8: ftext is %d33-57 / %d59-126.
func validName(n string) bool {
	if n == "" || len(n) > 998 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// newField builds a field from a milter's name and value. Line ends in
// the value become CRLF; a line that does not start with white space is
// indented so that a value can never start a field of its own.
func newField(name, value string) (field, error) {
	if !validName(name) {
		return field{}, fmt.Errorf("bad header name %q", name)
	}
	if strings.ContainsRune(value, 0) {
		return field{}, errors.New("NUL in header value")
	}
	value = strings.ReplaceAll(value, "\r\n", "\n")
	value = strings.ReplaceAll(value, "\r", "")
	lines := strings.Split(strings.TrimRight(value, "\n"), "\n")
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(':')
	for i, l := range lines {
		if i == 0 {
			if l != "" && l[0] != ' ' && l[0] != '\t' {
				b.WriteByte(' ')
			}
		} else {
			if strings.TrimSpace(l) == "" {
				continue // RFC 5322 3.2.2: no line of only white space
			}
			b.WriteString("\r\n")
			if l[0] != ' ' && l[0] != '\t' {
				b.WriteByte('\t')
			}
		}
		b.WriteString(l)
	}
	b.WriteString("\r\n")
	return field{name: name, raw: b.String()}, nil
}

// nth returns the index in fields of the n-th (1-based) field named
// name, or -1.
func nth(fields []field, name string, n uint32) int {
	var seen uint32
	for i, f := range fields {
		if strings.EqualFold(f.name, name) {
			seen++
			if seen == n {
				return i
			}
		}
	}
	return -1
}

// changeField is smfi_chgheader: replace the index-th (1-based) field
// named name; an empty value deletes it; a missing field is added.
func changeField(fields []field, index uint32, name, value string) ([]field, error) {
	i := nth(fields, name, index)
	if strings.TrimSpace(value) == "" {
		if i >= 0 {
			fields = append(fields[:i], fields[i+1:]...)
		}
		return fields, nil
	}
	f, err := newField(name, value)
	if err != nil {
		return fields, err
	}
	if i < 0 {
		return append(fields, f), nil
	}
	fields[i] = f
	return fields, nil
}

// insertField is smfi_insheader: index 0 puts the field first.
func insertField(fields []field, index uint32, name, value string) ([]field, error) {
	f, err := newField(name, value)
	if err != nil {
		return fields, err
	}
	i := len(fields)
	if uint64(index) < uint64(len(fields)) {
		i = int(index)
	}
	fields = append(fields, field{})
	copy(fields[i+1:], fields[i:])
	fields[i] = f
	return fields, nil
}

// crlfBody makes a milter's replacement body CRLF-terminated throughout.
func crlfBody(b []byte) []byte {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}
