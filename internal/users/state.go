package users

import (
	"fmt"
	"strings"
)

// The hash field of a users file line may carry an account state, in the
// manner of /etc/shadow, so that files written before suspension existed
// read the same:
//
//	a@example.org:$argon2id$...    active
//	a@example.org:!$argon2id$...   suspended: cannot log in, mail held
//	a@example.org:*                revoked: no password works until passwd
//	a@example.org:!*               both
//	a@example.org:+$argon2id$...   an admin: may log in to the web console
//	a@example.org:!+$argon2id$...  a suspended admin (the marks in this order)
const (
	suspendedMark = "!"
	adminMark     = "+"
	revokedHash   = "*"
)

// marks splits a hash field into its marks ("", "!", "+" or "!+") and the
// hash proper.
func marks(h string) (prefix, hash string) {
	rest := strings.TrimPrefix(h, suspendedMark)
	rest = strings.TrimPrefix(rest, adminMark)
	return h[:len(h)-len(rest)], rest
}

// bare is the hash proper of a hash field, without its marks.
func bare(h string) string {
	_, b := marks(h)
	return b
}

// usable reports whether a hash field lets its user log in.
func usable(h string) bool {
	return !strings.HasPrefix(h, suspendedMark) && bare(h) != revokedHash
}

// State is an account's state.
type State struct {
	Exists    bool
	Suspended bool // may not log in; their mail is held in the queue
	Revoked   bool // the password was revoked; set a new one with Passwd
	Admin     bool // may log in to the web console
}

// State returns addr's account state.
func (s *Store) State(addr string) State {
	a, err := Normalize(addr)
	if err != nil {
		return State{}
	}
	h, ok := s.refresh()[a]
	if !ok {
		return State{}
	}
	p, b := marks(h)
	return State{Exists: true, Suspended: strings.HasPrefix(p, suspendedMark),
		Revoked: b == revokedHash, Admin: strings.HasSuffix(p, adminMark)}
}

// Suspended reports whether addr is a suspended user.
func (s *Store) Suspended(addr string) bool { return s.State(addr).Suspended }

// Suspend marks a user suspended; ErrNotFound when addr is not a user.
func (s *Store) Suspend(addr string) error {
	return s.setHash(addr, func(h string) string {
		return suspendedMark + strings.TrimPrefix(h, suspendedMark)
	})
}

// Resume lifts a suspension.
func (s *Store) Resume(addr string) error {
	return s.setHash(addr, func(h string) string { return strings.TrimPrefix(h, suspendedMark) })
}

// Revoke makes every password fail for addr (the hash is replaced by one
// that matches nothing) until Passwd sets a new one; a suspension stays.
func (s *Store) Revoke(addr string) error {
	return s.setHash(addr, func(h string) string {
		p, _ := marks(h)
		return p + revokedHash
	})
}

// GrantAdmin gives addr the admin role: it may log in to the web console.
func (s *Store) GrantAdmin(addr string) error {
	return s.setHash(addr, func(h string) string {
		p, b := marks(h)
		return strings.TrimSuffix(p, adminMark) + adminMark + b
	})
}

// RevokeAdmin takes the admin role away; the account stays as it was.
func (s *Store) RevokeAdmin(addr string) error {
	return s.setHash(addr, func(h string) string {
		p, b := marks(h)
		return strings.TrimSuffix(p, adminMark) + b
	})
}

// VerifyAdmin reports whether password is addr's and addr is an admin
// who may log in. It takes as long as Verify whatever the answer, so it
// tells nobody which addresses exist or are admins.
func (s *Store) VerifyAdmin(addr, password string) bool {
	ok := s.Verify(addr, password)
	return ok && s.State(addr).Admin
}

func (s *Store) setHash(addr string, fn func(string) string) error {
	a, err := Normalize(addr)
	if err != nil {
		return err
	}
	return s.update(a, func(h string, ok bool) (string, bool, error) {
		if !ok {
			return "", false, fmt.Errorf("%s: %w", a, ErrNotFound)
		}
		return fn(h), true, nil
	})
}
