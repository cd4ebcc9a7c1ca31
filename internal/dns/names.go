package dns

import (
	"net"
	"strings"
)

// checkName returns name as an absolute domain name ("example.org."), or
// an IsNotFound error when it cannot be a host or domain name, as
// net.Resolver does: empty, longer than 253 octets, an empty label or
// one over 63 octets, a character other than letters, digits, '-' and
// '_', a label starting or ending with '-', or all digits.
func checkName(name string) (string, error) {
	if !validName(name) {
		return "", notFoundError(name, "")
	}
	if strings.HasSuffix(name, ".") {
		return name, nil
	}
	return name + ".", nil
}

// validName is the test behind checkName.
func validName(s string) bool {
	if s == "." {
		return true // the root
	}
	// RFC 1035 2.3.4: names are at most 255 octets on the wire, which is
	// 253 characters in text without the final dot.
	n := len(s)
	if n == 0 || n > 254 || n == 254 && s[n-1] != '.' {
		return false
	}
	last := byte('.')
	letters := false
	label := 0
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_':
			letters = true
			label++
		case '0' <= c && c <= '9':
			label++
		case c == '-':
			if last == '.' {
				return false
			}
			letters = true
			label++
		case c == '.':
			// RFC 1035 2.3.4: labels are 1 to 63 octets.
			if last == '.' || last == '-' || label > 63 {
				return false
			}
			label = 0
		default:
			return false
		}
		last = c
	}
	return last != '-' && label <= 63 && letters
}

// isLocalhost reports whether host is "localhost" or a name under it,
// which RFC 6761 6.3 lets a resolver answer with loopback addresses
// without asking any server.
func isLocalhost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

var loopbackAddrs = []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}, {IP: net.IPv6loopback}}
