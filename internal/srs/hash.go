package srs

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"time"
)

// The timestamp of an SRS0 address is the day it was made: days since
// 1970-01-01 UTC, modulo 1024, as two characters of the base32 alphabet
// (RFC 4648), high five bits first. libsrs2 and postsrsd write it so.
const (
	stampAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	stampSlots    = 1024
	day           = 24 * time.Hour
)

// hashLen is how many characters of the hash an address carries (the
// default of libsrs2 and postsrsd).
const hashLen = 4

// dayNumber is t's day since 1970-01-01 UTC.
func dayNumber(t time.Time) int64 {
	return t.Unix() / int64(day/time.Second)
}

// makeStamp writes the timestamp of the day t falls on.
func makeStamp(t time.Time) string {
	n := dayNumber(t) % stampSlots
	return string([]byte{stampAlphabet[n>>5&31], stampAlphabet[n&31]})
}

// readStamp reads a two-character timestamp, in either case; ok is false
// for anything else.
func readStamp(s string) (n int64, ok bool) {
	if len(s) != 2 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		v := stampValue(s[i])
		if v < 0 {
			return 0, false
		}
		n = n<<5 | int64(v)
	}
	return n, true
}

func stampValue(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c - 'a')
	case '2' <= c && c <= '7':
		return int(c-'2') + 26
	}
	return -1
}

// stampAge is how many days old a timestamp is at now. The timestamp
// only knows the day modulo 1024, so a day "after" today counts as
// made 1024 days earlier (and is long expired), as libsrs2 counts it.
func stampAge(stamp int64, now time.Time) int64 {
	today := dayNumber(now) % stampSlots
	return ((today-stamp)%stampSlots + stampSlots) % stampSlots
}

// makeHash is the hash of an address: HMAC-SHA1 keyed with the secret,
// over the parts in ASCII lower case one after the other, in base64; its
// first hashLen characters.
func makeHash(secret []byte, parts ...string) string {
	m := hmac.New(sha1.New, secret)
	for _, p := range parts {
		m.Write(lowerASCII(p))
	}
	sum := m.Sum(nil)
	// Three bytes are exactly four base64 characters.
	return base64.StdEncoding.EncodeToString(sum[:3])[:hashLen]
}

// hashMatches compares a hash from an address with the one computed,
// ignoring case: a mail system on the way may have changed the case of
// the local part (libsrs2 and postsrsd accept that too).
func hashMatches(got, want string) bool {
	if len(got) != len(want) {
		return false
	}
	return subtle.ConstantTimeCompare(lowerASCII(got), lowerASCII(want)) == 1
}

// lowerASCII lower-cases A to Z only, as the C library does in the "C"
// locale libsrs2 runs in.
func lowerASCII(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}
