package console

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Session limits: a session ends after IdleTimeout without a request or
// MaxAge after the login, whichever comes first.
const (
	IdleTimeout = 30 * time.Minute
	MaxAge      = 12 * time.Hour
	maxSessions = 1000
	cookieName  = "postern_console"
	cookiePath  = "/console/"
)

// session is one logged-in admin.
type session struct {
	id, user, csrf string
	created, seen  time.Time
}

// sessions are kept in the server only; the cookie holds a random
// 256-bit id and nothing else.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[string]*session{}}
}

// token is 256 random bits, URL-safe.
func token() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start makes a session for user, always with a new id (no fixation).
func (ss *sessions) start(user string) *session {
	now := ss.now()
	s := &session{id: token(), user: user, csrf: token(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.expireLocked(now)
	if len(ss.m) >= maxSessions {
		ss.dropOldestLocked()
	}
	ss.m[s.id] = s
	return s
}

// get returns the live session of id and marks it seen, or nil.
func (ss *sessions) get(id string) *session {
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil
	}
	s.seen = now
	cp := *s
	return &cp
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) > IdleTimeout || now.Sub(s.created) > MaxAge
}

func (ss *sessions) expireLocked(now time.Time) {
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
		}
	}
}

func (ss *sessions) dropOldestLocked() {
	var oldest *session
	for _, s := range ss.m {
		if oldest == nil || s.seen.Before(oldest.seen) {
			oldest = s
		}
	}
	if oldest != nil {
		delete(ss.m, oldest.id)
	}
}

// setCookie hands the session id to the browser: Secure (browsers keep
// Secure cookies of http://127.0.0.1 and http://localhost, which count
// as secure contexts), HttpOnly, SameSite=Strict, for /console/ only,
// and gone when the browser closes.
func setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: cookiePath, MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// authed serves h to a logged-in admin; others go to the login page. A
// POST must carry the session's CSRF token.
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if ck, err := r.Cookie(cookieName); err == nil {
			s = c.sessions.get(ck.Value)
		}
		if s == nil {
			if r.Method != http.MethodGet {
				http.Error(w, "forbidden: log in first", http.StatusForbidden)
				return
			}
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if !parsePost(w, r) {
				return
			}
			if !checkCSRF(r, s) {
				http.Error(w, "forbidden: the form's CSRF token is missing or wrong; load the page again", http.StatusForbidden)
				return
			}
		}
		h(w, r, s)
	}
}
