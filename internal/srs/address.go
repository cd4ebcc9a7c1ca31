package srs

import (
	"errors"
	"fmt"
	"strings"
)

// The errors of parsing and reversing an address. Each reversal error
// wraps one of them, so that a caller can tell them apart with
// errors.Is and log the detail.
var (
	// ErrNotSRS: the local part does not start with SRS0 or SRS1 and a
	// separator (=, + or -).
	ErrNotSRS = errors.New("not an SRS address")
	// ErrSyntax: it starts like one but a part is missing.
	ErrSyntax = errors.New("malformed SRS address")
	// ErrHash: no key of ours gives the hash in the address: it was
	// forged, damaged, or made with a key that is no longer kept.
	ErrHash = errors.New("SRS hash does not match any key")
	// ErrExpired: the hash is good but the address is older than max_age.
	ErrExpired = errors.New("SRS address expired")
)

// Address is an SRS address taken apart. An SRS0 address
//
//	SRS0=HHHH=TT=orig-domain=orig-local@srs.domain
//
// is made by the first forwarder from the original sender; an SRS1
// address
//
//	SRS1=HHHH=first.forwarder==HHHH=TT=orig-domain=orig-local@srs.domain
//
// by a later forwarder from the SRS0 address of the first one, which it
// keeps as it was apart from the "SRS0" tag (so it still starts with its
// separator, hence the "==").
type Address struct {
	Guarded bool // an SRS1 address (else SRS0)
	Sep     byte // the separator after the tag: '=', '+' or '-'
	Hash    string
	Stamp   string // SRS0 only: the day it was made
	// Host is, in SRS0, the original sender's domain; in SRS1, the
	// domain of the first forwarder.
	Host string
	// User is, in SRS0, the original sender's local part; in SRS1, the
	// first forwarder's SRS0 local part after its "SRS0" tag.
	User string
	// Domain is the domain the address is in, after its last "@" (""
	// when a bare local part was parsed).
	Domain string
}

// tagOf returns whether local starts with an SRS tag and separator, and
// whether the tag is SRS1. The tag may be in any case.
func tagOf(local string) (isSRS, guarded bool) {
	if len(local) < 5 || !strings.EqualFold(local[:3], "SRS") || !strings.ContainsRune("=+-", rune(local[4])) {
		return false, false
	}
	switch local[3] {
	case '0':
		return true, false
	case '1':
		return true, true
	}
	return false, false
}

// IsSRS reports whether an address (or a bare local part) looks like an
// SRS address: it does not check the hash or the age.
func IsSRS(addr string) bool {
	ok, _ := tagOf(localPart(addr))
	return ok
}

// localPart is addr up to its last "@", or addr itself without one.
func localPart(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[:at]
	}
	return addr
}

// plainLocal reports whether a local part can be part of an SRS
// address: no "@", quote, backslash, space or control character (a
// dot-string, as RFC 5321 has it, or near enough).
func plainLocal(local string) bool {
	for i := 0; i < len(local); i++ {
		if c := local[i]; c <= ' ' || c == 0x7f || c == '@' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ParseAddress takes an SRS address ("local@domain", or a bare local
// part) apart without checking its hash or age. Every part must be
// there and not empty; the separators inside are "=", as libsrs2 writes
// them.
func ParseAddress(addr string) (Address, error) {
	local := localPart(addr)
	a := Address{}
	if len(local) < len(addr) {
		a.Domain = addr[len(local)+1:]
	}
	isSRS, guarded := tagOf(local)
	if !isSRS {
		return Address{}, ErrNotSRS
	}
	if len(local) < len(addr) && a.Domain == "" {
		return Address{}, fmt.Errorf("%w: nothing after the @", ErrSyntax)
	}
	if !plainLocal(local) {
		return Address{}, fmt.Errorf("%w: an @, a quote, a backslash, a space or a control character in the local part", ErrSyntax)
	}
	a.Guarded, a.Sep = guarded, local[4]
	rest := local[5:]
	names := []string{"hash", "timestamp", "original domain", "original local part"}
	fields := []*string{&a.Hash, &a.Stamp, &a.Host, &a.User}
	if guarded {
		names = []string{"hash", "first forwarder's domain", "first forwarder's address"}
		fields = []*string{&a.Hash, &a.Host, &a.User}
	}
	for i, f := range fields {
		v, more, found := strings.Cut(rest, "=")
		if i == len(fields)-1 {
			// The last part takes the rest, "=" and all.
			v, found = rest, true
		}
		if !found || v == "" {
			return Address{}, fmt.Errorf("%w: no %s", ErrSyntax, names[i])
		}
		*f, rest = v, more
	}
	return a, nil
}

// String writes the address back as it was parsed.
func (a Address) String() string {
	var b strings.Builder
	if a.Guarded {
		b.WriteString("SRS1")
	} else {
		b.WriteString("SRS0")
	}
	b.WriteByte(a.Sep)
	b.WriteString(a.Hash)
	if !a.Guarded {
		b.WriteByte('=')
		b.WriteString(a.Stamp)
	}
	b.WriteByte('=')
	b.WriteString(a.Host)
	b.WriteByte('=')
	b.WriteString(a.User)
	if a.Domain != "" {
		b.WriteByte('@')
		b.WriteString(a.Domain)
	}
	return b.String()
}
