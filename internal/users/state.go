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
const (
	suspendedMark = "!"
	revokedHash   = "*"
)

// usable reports whether a hash field lets its user log in.
func usable(h string) bool {
	return !strings.HasPrefix(h, suspendedMark) && h != revokedHash
}

// State is an account's state.
type State struct {
	Exists    bool
	Suspended bool // may not log in; their mail is held in the queue
	Revoked   bool // the password was revoked; set a new one with Passwd
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
	return State{Exists: true, Suspended: strings.HasPrefix(h, suspendedMark),
		Revoked: strings.TrimPrefix(h, suspendedMark) == revokedHash}
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
		if strings.HasPrefix(h, suspendedMark) {
			return suspendedMark + revokedHash
		}
		return revokedHash
	})
}

func (s *Store) setHash(addr string, fn func(string) string) error {
	a, err := Normalize(addr)
	if err != nil {
		return err
	}
	return s.modify(func(lines []line) ([]line, error) {
		for i := range lines {
			if lines[i].addr == a {
				lines[i].hash = fn(lines[i].hash)
				return lines, nil
			}
		}
		return nil, fmt.Errorf("%s: %w", a, ErrNotFound)
	})
}
