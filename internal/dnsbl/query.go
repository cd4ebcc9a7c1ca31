// Package dnsbl looks client addresses up in DNS block lists with the
// semantics of sendmail's FEATURE(enhdnsbl): several lists, each with the
// return codes that count, its own reply text naming the client address,
// and a choice between ignoring DNS errors and answering them with a
// temporary failure.
package dnsbl

import (
	"net/netip"
	"strings"
)

const hexDigits = "0123456789abcdef"

// QueryName returns the name to look up for ip in zone: the IPv4 octets
// reversed ("2.0.0.127.zone.") or, for IPv6, the 32 nibbles reversed
// (RFC 5782 2.4), as an absolute name so no search domain is appended.
func QueryName(ip netip.Addr, zone string) string {
	ip = ip.Unmap()
	zone = strings.TrimSuffix(zone, ".")
	var b strings.Builder
	if ip.Is4() {
		// RFC 5782 2.1: the octets in reverse order.
		a := ip.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(itoa(a[i]))
			b.WriteByte('.')
		}
	} else {
		// RFC 5782 2.4: IPv6 as reversed nibbles, like ip6.arpa.
		a := ip.As16()
		for i := 15; i >= 0; i-- {
			b.WriteByte(hexDigits[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hexDigits[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(zone)
	b.WriteByte('.')
	return b.String()
}

func itoa(v byte) string {
	if v < 10 {
		return string('0' + rune(v))
	}
	if v < 100 {
		return string([]byte{'0' + v/10, '0' + v%10})
	}
	return string([]byte{'0' + v/100, '0' + v/10%10, '0' + v%10})
}
