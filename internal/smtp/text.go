package smtp

import "strings"

// Printable returns s as it may stand in a header field or a log line:
// valid UTF-8 with no control characters (CR, LF, NUL and the others are
// dropped, as are invalid bytes). Text from the wire passes here before
// it is written into Authentication-Results or Received-SPF.
func Printable(s string) string {
	if plainASCII(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// plainASCII reports whether s is printable ASCII only, which Printable
// leaves as it is (the usual case, and cheap to tell).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
