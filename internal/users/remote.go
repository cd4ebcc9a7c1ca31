package users

import (
	"context"
	"time"
)

// Remote is a database that holds the users instead of the file, for a
// fleet of servers that share them (internal/pgusers).
type Remote interface {
	// Fetch reads every user.
	Fetch(ctx context.Context) ([]Row, error)
	// Update changes addr's row in one transaction: fn is given the row
	// (ok false when there is none) and returns the new one, or keep
	// false to delete it; an error from fn changes nothing.
	Update(ctx context.Context, addr string, fn func(r Row, ok bool) (Row, bool, error)) error
	// Where names the table in messages, without the password.
	Where() string
}

// RemoteOptions say how often a Remote is read and how long a copy holds.
type RemoteOptions struct {
	Remote Remote
	// Refresh is how often the table is read whole; Stale how long the
	// last copy serves when a read fails (after it no user exists and
	// UnavailableText says why); Timeout bounds one read or write.
	Refresh, Stale, Timeout time.Duration
	// Observe, when set, is given every copy read (rendered as users
	// file lines, sorted) with the error that refused it, for the
	// change log.
	Observe func(where string, text []byte, err error)
}

// retryFailed is how soon a failed read is tried again.
const retryFailed = 10 * time.Second

// openRemote makes a Store on a Remote and reads the table once; a table
// that cannot be read leaves no user until it can be (UnavailableText).
func openRemote(s *Store) {
	r := *s.opt.Remote // the caller's options stay as they were
	s.opt.Remote = &r
	if r.Refresh <= 0 {
		r.Refresh = time.Minute
	}
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	r.Stale = max(r.Stale, r.Refresh)
	stop := make(chan struct{})
	s.stop = stop
	s.fetchRemote()
	go func() {
		for {
			wait := s.opt.Remote.Refresh
			if err, _ := s.LoadError(); err != nil {
				wait = min(wait, retryFailed)
			}
			select {
			case <-stop:
				return
			case <-time.After(wait):
				s.fetchRemote()
			}
		}
	}()
}

// fetchRemote reads the table whole and installs it; on failure the last
// copy stays for the stale period (expireLocked).
func (s *Store) fetchRemote() {
	r := s.opt.Remote
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	rows, err := r.Remote.Fetch(ctx)
	var users map[string]string
	if err == nil {
		users, err = FromRows(r.Remote.Where(), rows)
		if r.Observe != nil {
			r.Observe(r.Remote.Where(), renderRows(rows), err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.lastErr == nil || s.lastErr.Error() != err.Error() {
			s.opt.Log.Error("users table not read, keeping the users read before until they are stale",
				"table", r.Remote.Where(), "stale_after", r.Stale.String(), "err", err)
		}
		s.lastErr = err
		s.failures++
		return
	}
	if s.lastErr != nil || len(users) != len(s.users) {
		s.opt.Log.Info("users table read", "table", r.Remote.Where(), "users", len(users))
	}
	s.lastErr, s.users, s.good = nil, users, time.Now()
}

// expireLocked empties the users of a copy older than the stale period,
// so that no login and no "no such user" comes from it; s.mu is held.
func (s *Store) expireLocked() {
	if s.opt.Remote == nil || s.good.IsZero() || time.Since(s.good) < s.opt.Remote.Stale {
		return
	}
	s.users, s.good = map[string]string{}, time.Time{}
	s.opt.Log.Error("users table unreadable for longer than its stale period: AUTH and local recipients wait (4xx) until it is read",
		"table", s.opt.Remote.Remote.Where(), "stale_after", s.opt.Remote.Stale.String())
}

// UnavailableText says why the users cannot be known now ("" when they
// can): the table could not be read for longer than its stale period, or
// not once. A decision that needs a user must then wait (4xx).
func (s *Store) UnavailableText() string {
	if s.opt.Remote == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	if !s.good.IsZero() {
		return ""
	}
	if s.lastErr != nil {
		return s.lastErr.Error()
	}
	return s.opt.Remote.Remote.Where() + ": not read yet"
}

// Close stops reading the table (a Store on a file: nothing to do).
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
}

// updateRemote is update for a Store on a Remote; the copy in memory is
// changed too, so that this process sees its own change at once.
func (s *Store) updateRemote(a string, fn updateFunc) error {
	r := s.opt.Remote
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	var field string
	var keep bool
	err := r.Remote.Update(ctx, a, func(row Row, ok bool) (Row, bool, error) {
		h := ""
		if ok {
			h = row.field()
		}
		var err error
		field, keep, err = fn(h, ok)
		return rowOf(a, field), keep, err
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.good.IsZero() {
		return nil
	}
	users := make(map[string]string, len(s.users)+1)
	for k, v := range s.users {
		users[k] = v
	}
	if keep {
		users[a] = field
	} else {
		delete(users, a)
	}
	s.users = users
	return nil
}
