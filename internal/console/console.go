// Package console is the operator's web console on the admin listener,
// under /console/: an overview of the mail flow with plots drawn on the
// server (internal/svgplot), the queue with its actions, the DMARC
// reports received, the DKIM keys and certificates, and the change log. Only users with the admin role log in (internal/users); sessions
// live in the server, and every change is a POST with the session's CSRF
// token. No page needs JavaScript, so the Content-Security-Policy allows
// none.
//
// Everything shown that comes from mail (addresses, subjects, headers)
// or from files is hostile: html/template escapes it and svgplot.Visible
// shows control characters, bytes that are not UTF-8 and bidirectional
// overrides as visible escapes.
package console

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"postern/internal/changelog"
	"postern/internal/control"
	"postern/internal/dns"
)

// Users checks console logins (a *users.Store). One that also has
// UnavailableText (a users table not read past its stale period) makes
// every login wait while it says why.
type Users interface {
	// VerifyAdmin reports whether password is addr's and addr has the
	// admin role, in the same time whatever the answer.
	VerifyAdmin(addr, password string) bool
}

// Lockout is the failed-login lock-out shared with SMTP AUTH (a
// *limits.Limits).
type Lockout interface {
	LoginLocked(ctx context.Context, ip netip.Addr) error
	LoginFailed(ctx context.Context, ip netip.Addr, user string) error
}

// History gives the counters over time (internal/history's store).
type History interface {
	// Series gives the last n buckets of name, oldest first, ending with
	// the bucket that holds now. step is time.Minute, time.Hour or
	// 24*time.Hour. Missing buckets are 0. Gauges give the last/largest
	// value.
	Series(name string, step time.Duration, n int, now time.Time) []float64
	// Names lists the series whose name starts with prefix, sorted.
	Names(prefix string) []string
}

// Changes is the change log (internal/changelog's store).
type Changes interface {
	// List gives the entries, newest first.
	List() ([]changelog.Entry, error)
	// Get gives entry n.
	Get(n int) (changelog.Entry, error)
}

// Options configure the console. Users and Queue are needed; the rest
// may be nil, and the pages say what is missing.
type Options struct {
	Users   Users
	Lockout Lockout // nil: no lock-out (tests only: the server passes its limits)
	// Queue is the running server's queue (a *spool.Spool); actions go
	// through control.Apply, as those of the control socket do.
	Queue        control.Queue
	Destinations control.Destinations
	// SpoolDir is the spool's directory, to read a message's header.
	SpoolDir string
	History  History
	Changes  Changes
	// DMARCDir is the DMARC data directory (its received/ holds the
	// aggregate reports received); "" means none.
	DMARCDir string
	// DMARCSent is where the record of the reports sent is read: the
	// fleet's shared store when the server has one (sharedstate's
	// DMARCSent); nil means this node's own record in DMARCDir.
	DMARCSent SentRecord
	// DKIMDir, ActivateAfter and Resolver are for the keys page's DKIM
	// status (dkimkeys.Keys); TLS is the server's certificate
	// configuration, for their expiry.
	DKIMDir       string
	ActivateAfter time.Duration
	Resolver      dns.Resolver
	TLS           *tls.Config
	// Alerts and Problems are those of /status.
	Alerts   func() []string
	Problems func() []string
	// Log is the mail log: logins and queue actions go there with the
	// console user.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Console serves the pages; make it with New.
type Console struct {
	o        Options
	sessions *sessions
	subjects *subjectCache
	mux      *http.ServeMux
}

// New returns the console, to mount at /console/.
func New(o Options) *Console {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Console{o: o, sessions: newSessions(o.Now), subjects: newSubjectCache(o.SpoolDir)}
	m := http.NewServeMux()
	m.HandleFunc("GET /console/style.css", serveStyle)
	m.HandleFunc("GET /console/login", c.loginPage)
	m.HandleFunc("POST /console/login", c.login)
	m.HandleFunc("POST /console/logout", c.authed(c.logout))
	m.HandleFunc("GET /console/{$}", c.authed(c.overview))
	m.HandleFunc("GET /console/queue", c.authed(c.queueList))
	m.HandleFunc("GET /console/queue/{id}", c.authed(c.queueMessage))
	m.HandleFunc("POST /console/queue/{id}", c.authed(c.queueAction))
	m.HandleFunc("GET /console/dmarc", c.authed(c.dmarc))
	m.HandleFunc("GET /console/keys", c.authed(c.keys))
	m.HandleFunc("GET /console/changes", c.authed(c.changesList))
	m.HandleFunc("GET /console/changes/{n}", c.authed(c.changesEntry))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found", http.StatusNotFound)
	})
	c.mux = m
	return c
}

// ServeHTTP sets the security headers on every answer and serves the
// page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}
