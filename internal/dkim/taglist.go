package dkim

// The tag-list syntax shared by signatures and key records (RFC 6376
// 3.2), and the encodings of tag values: lists, base64 and
// dkim-quoted-printable (RFC 6376 2.6, 2.11).

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// tag is one tag-spec of a tag-list (RFC 6376 3.2): its name and value
// with the white space around them removed, and where the raw value
// (everything between "=" and the next ";") lies in the parsed text.
type tag struct {
	name, value []byte
	start, end  int
}

// maxLinearTags is the tag count up to which duplicates are looked for
// by comparing with every earlier tag; longer lists use a map.
const maxLinearTags = 32

var (
	errMalformedTags = errors.New("malformed tag-list: a tag without \"=\"")
	errDuplicateTag  = errors.New("malformed tag-list: duplicate tag")
)

// parseTagList splits s into its tags, appended to dst. RFC 6376 3.2: a
// tag-spec without "=" or a tag name given twice makes the whole list
// invalid; empty tag-specs (";;", a final ";") are skipped. On error the
// tags read so far (the later of two duplicates replacing the earlier)
// are returned too, for reporting.
func parseTagList(s []byte, dst []tag) ([]tag, error) {
	var err error
	var seen map[string]int
	for pos := 0; pos <= len(s); {
		end := bytes.IndexByte(s[pos:], ';')
		if end < 0 {
			end = len(s)
		} else {
			end += pos
		}
		spec := s[pos:end]
		start := pos
		pos = end + 1
		eq := bytes.IndexByte(spec, '=')
		if eq < 0 {
			if len(trimFWS(spec)) != 0 && err == nil {
				err = errMalformedTags
			}
			continue
		}
		t := tag{name: trimFWS(spec[:eq]), value: trimFWS(spec[eq+1:]), start: start + eq + 1, end: end}
		dup := -1
		if len(dst) < maxLinearTags && seen == nil {
			for i := range dst {
				if bytes.Equal(dst[i].name, t.name) {
					dup = i
					break
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]int, 2*len(dst))
				for i := range dst {
					seen[string(dst[i].name)] = i
				}
			}
			if i, ok := seen[string(t.name)]; ok {
				dup = i
			} else {
				seen[string(t.name)] = len(dst)
			}
		}
		if dup >= 0 {
			// RFC 6376 3.2: duplicate tag names make the list invalid.
			if err == nil {
				err = errDuplicateTag
			}
			dst[dup] = t
			continue
		}
		dst = append(dst, t)
	}
	return dst, err
}

// lookupTag returns the tag named name.
func lookupTag(tags []tag, name string) (tag, bool) {
	for _, t := range tags {
		if string(t.name) == name {
			return t, true
		}
	}
	return tag{}, false
}

// isFWS reports whether c is folding white space (RFC 6376 2.8: WSP and
// the CR LF of folded lines).
func isFWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// trimFWS removes FWS at both ends of b.
func trimFWS(b []byte) []byte {
	for len(b) > 0 && isFWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isFWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// hasFWS reports whether b holds folding white space anywhere.
func hasFWS(b []byte) bool {
	for _, c := range b {
		if isFWS(c) {
			return true
		}
	}
	return false
}

// appendNoFWS appends b to dst without its FWS (RFC 6376 3.2: white
// space inside base64 and similar values is ignored).
func appendNoFWS(dst, b []byte) []byte {
	for _, c := range b {
		if !isFWS(c) {
			dst = append(dst, c)
		}
	}
	return dst
}

// noFWS returns b without FWS, as a string.
func noFWS(b []byte) string {
	if !hasFWS(b) {
		return string(b)
	}
	return string(appendNoFWS(make([]byte, 0, len(b)), b))
}

func listHas(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// nextListItem returns the first item of a colon-separated list (h=,
// q=) with FWS removed at its ends, and the rest (nil after the last).
func nextListItem(l []byte) (item, rest []byte) {
	i := bytes.IndexByte(l, ':')
	if i < 0 {
		return trimFWS(l), nil
	}
	return trimFWS(l[:i]), l[i+1:]
}

// nextName is nextListItem with white space inside the item removed too
// (a header field name has none, RFC 5322 3.6.8; VT and FF go as well,
// as the signer's library drops them), using buf when it must copy.
func nextName(l []byte, buf []byte) (item, rest []byte) {
	item, rest = nextListItem(l)
	for _, c := range item {
		if isSpaceASCII(c) {
			clean := buf[:0]
			for _, c := range item {
				if !isSpaceASCII(c) {
					clean = append(clean, c)
				}
			}
			return clean, rest
		}
	}
	return item, rest
}

// splitList splits a colon-separated tag value into its items.
func splitList(v []byte) []string {
	var out []string
	for rest := v; rest != nil; {
		var item []byte
		item, rest = nextListItem(rest)
		out = append(out, noFWS(item))
	}
	return out
}

// decodeBase64 decodes a base64 value, appending to dst. FWS in it is
// ignored (RFC 6376 3.2), and so are VT and FF, as the signer's library
// ignores them.
func decodeBase64(dst, b []byte) ([]byte, error) {
	var tmp [1024]byte
	clean := b
	for _, c := range b {
		if isSpaceASCII(c) {
			clean = tmp[:0]
			for _, c := range b {
				if !isSpaceASCII(c) {
					clean = append(clean, c)
				}
			}
			break
		}
	}
	n := base64.StdEncoding.DecodedLen(len(clean))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	m, err := base64.StdEncoding.Decode(dst, clean)
	if err != nil {
		return dst[:0], err
	}
	return dst[:m], nil
}

// isSpaceASCII is white space in the sense of ASCII: SP, HTAB, LF, VT,
// FF, CR.
func isSpaceASCII(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

// decodeDKIMQP decodes a dkim-quoted-printable value (RFC 6376 2.11):
// FWS is ignored and "=XX" stands for the octet XX.
func decodeDKIMQP(b []byte) (string, error) {
	if bytes.IndexByte(b, '=') < 0 {
		return noFWS(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case isFWS(c):
		case c == '=':
			if i+2 >= len(b) || unhex(b[i+1]) < 0 || unhex(b[i+2]) < 0 {
				return "", errors.New("bad quoted-printable escape")
			}
			out = append(out, byte(unhex(b[i+1])<<4|unhex(b[i+2])))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
