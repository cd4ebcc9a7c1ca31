package smtp

import (
	"errors"
	"fmt"
	"strings"
)

// DecodeXtext decodes an RFC 3461 xtext value (ENVID, ORCPT, AUTH=). The
// result must be printable US-ASCII (space allowed): values that decode to
// control characters or 8-bit bytes are refused, since they end up in
// headers of delivery status notifications.
func DecodeXtext(s string) (string, error) {
	if strings.IndexByte(s, '+') < 0 {
		for i := 0; i < len(s); i++ {
			if !isXchar(s[i]) {
				return "", fmt.Errorf("xtext: character %q not allowed", s[i])
			}
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' {
			// RFC 3461 4: hexchar = "+" followed by two upper-case hex digits.
			if i+2 >= len(s) {
				return "", errors.New("xtext: truncated hexchar")
			}
			hi, ok1 := upperHex(s[i+1])
			lo, ok2 := upperHex(s[i+2])
			if !ok1 || !ok2 {
				return "", fmt.Errorf("xtext: bad hexchar %q", s[i:i+3])
			}
			v := hi<<4 | lo
			if v < 0x20 || v > 0x7e {
				return "", fmt.Errorf("xtext: decoded byte 0x%02X not allowed", v)
			}
			b.WriteByte(v)
			i += 2
			continue
		}
		if !isXchar(c) {
			return "", fmt.Errorf("xtext: character %q not allowed", c)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// EncodeXtext encodes s as RFC 3461 xtext: every byte outside "!" to "~",
// and "+" and "=", becomes "+" and two upper-case hex digits.
func EncodeXtext(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isXchar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('+')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// RFC 3461 4: xchar = any ASCII CHAR between "!" (33) and "~" (126)
// inclusive, except for "+" and "=".
func isXchar(c byte) bool {
	return c >= 33 && c <= 126 && c != '+' && c != '='
}

func upperHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
