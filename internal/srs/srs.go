// Package srs is the Sender Rewriting Scheme: the envelope sender of
// mail that a forwarder sends on to another domain becomes an address in
// the forwarder's own domain, so that the next hop's SPF check looks at
// the forwarder and not at the original sender's domain; bounces to that
// address come back to the forwarder, which checks it and sends them on
// to the original sender.
//
// The addresses are those of libsrs2 and postsrsd (SRS0 and SRS1, a
// four-character hash, a two-character day stamp), made with the same
// keys in the same way, so that a site moving from Postfix and postsrsd
// keeps the postsrsd secrets file and bounces to addresses postsrsd made
// still come home.
package srs

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultMaxAge is how long an SRS address is accepted for bounces: 21
// days, as libsrs2 and postsrsd.
const DefaultMaxAge = 21 * day

// maxPath is the longest address that fits a forward-path (RFC 5321
// 4.5.3.1.3: 256 octets with the angle brackets).
const maxPath = 254

// Secrets gives the keys: the first one signs new addresses, every one
// is tried when an address is checked (so that a key rotation does not
// break bounces to addresses made before it).
type Secrets interface {
	Secrets() [][]byte
}

// Keys is a fixed list of keys.
type Keys [][]byte

// Secrets implements Secrets.
func (k Keys) Secrets() [][]byte { return k }

// ErrNoKeys: there is no key to sign or check with.
var ErrNoKeys = errors.New("no SRS keys")

// Rewriter makes and checks the SRS addresses of one domain.
type Rewriter struct {
	// Domain is ours: where the SRS addresses live (lower case).
	Domain string
	Keys   Secrets
	// MaxAge is how old an address may be; 0 means DefaultMaxAge. It
	// counts in whole days, as the timestamp does.
	MaxAge time.Duration
	// Now gives the time; nil means time.Now.
	Now func() time.Time
}

func (r *Rewriter) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Rewriter) maxDays() int64 {
	if r.MaxAge <= 0 {
		return int64(DefaultMaxAge / day)
	}
	return int64(r.MaxAge / day)
}

func (r *Rewriter) keys() [][]byte {
	if r.Keys == nil {
		return nil
	}
	return r.Keys.Secrets()
}

// Forward returns the SRS address for the envelope sender of a message
// we forward. The null sender stays null, and a sender already in our
// domain stays as it is. A sender that is an SRS0 address of another
// forwarder becomes an SRS1 address naming that forwarder, and an SRS1
// address gets our hash and domain in place of the previous ones: the
// bounce path then skips the forwarders between.
func (r *Rewriter) Forward(sender string) (string, error) {
	if sender == "" {
		return "", nil
	}
	at := strings.LastIndexByte(sender, '@')
	if at <= 0 || at == len(sender)-1 {
		return "", fmt.Errorf("sender %q has no local part or no domain", sender)
	}
	local, host := sender[:at], sender[at+1:]
	if strings.EqualFold(host, r.Domain) {
		return sender, nil
	}
	if !plainLocal(local) || !plainLocal(host) || strings.Contains(host, "=") {
		return "", fmt.Errorf("sender %q: a quoted local part (or one with spaces) cannot be carried in an SRS address", sender)
	}
	keys := r.keys()
	if len(keys) == 0 {
		return "", ErrNoKeys
	}
	out, err := r.forward(keys[0], local, host)
	if err != nil {
		return "", fmt.Errorf("sender %q: %w", sender, err)
	}
	if len(out) > maxPath {
		return "", fmt.Errorf("sender %q: its SRS address would be longer than %d octets", sender, maxPath)
	}
	return out, nil
}

// forward makes the address for local@host with the signing key.
func (r *Rewriter) forward(key []byte, local, host string) (string, error) {
	isSRS, guarded := tagOf(local)
	switch {
	case isSRS && guarded:
		// Another SRS1: keep its first forwarder and the SRS0 part.
		a, err := ParseAddress(local)
		if err != nil {
			return "", err
		}
		return "SRS1=" + makeHash(key, a.Host, a.User) + "=" + a.Host + "=" + a.User + "@" + r.Domain, nil
	case isSRS:
		// An SRS0 of the forwarder at host: name it, keep the rest.
		opaque := local[4:]
		return "SRS1=" + makeHash(key, host, opaque) + "=" + host + "=" + opaque + "@" + r.Domain, nil
	}
	stamp := makeStamp(r.now())
	return "SRS0=" + makeHash(key, stamp, host, local) + "=" + stamp + "=" + host + "=" + local + "@" + r.Domain, nil
}

// Owns reports whether addr is in our domain and looks like an SRS
// address (the RCPT decision then asks Reverse; the domain compare
// ignores case).
func (r *Rewriter) Owns(addr string) bool {
	at := strings.LastIndexByte(addr, '@')
	return at > 0 && strings.EqualFold(addr[at+1:], r.Domain) && IsSRS(addr[:at])
}

// Reverse checks an SRS address (its hash with every key, and for SRS0
// its age) and returns the address it stands for: the original sender
// for SRS0, the first forwarder's SRS0 address for SRS1. The domain
// after the "@" is not looked at; Owns is for that.
func (r *Rewriter) Reverse(addr string) (string, error) {
	a, err := ParseAddress(addr)
	if err != nil {
		return "", err
	}
	keys := r.keys()
	if len(keys) == 0 {
		return "", ErrNoKeys
	}
	parts := []string{a.Stamp, a.Host, a.User}
	if a.Guarded {
		parts = parts[1:]
	}
	if !r.anyKey(keys, a.Hash, parts) {
		return "", ErrHash
	}
	if a.Guarded {
		return "SRS0" + a.User + "@" + a.Host, nil
	}
	stamp, ok := readStamp(a.Stamp)
	if !ok {
		return "", fmt.Errorf("%w: the timestamp %q is not two base32 characters", ErrSyntax, a.Stamp)
	}
	if age := stampAge(stamp, r.now()); age > r.maxDays() {
		return "", fmt.Errorf("%w: made %d days ago, max_age is %d days", ErrExpired, age, r.maxDays())
	}
	return a.User + "@" + a.Host, nil
}

// anyKey reports whether one of the keys gives the hash.
func (r *Rewriter) anyKey(keys [][]byte, hash string, parts []string) bool {
	if len(hash) != hashLen {
		return false
	}
	for _, k := range keys {
		if hashMatches(hash, makeHash(k, parts...)) {
			return true
		}
	}
	return false
}
