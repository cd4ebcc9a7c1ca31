// Package sharedstate opens the [ratelimit] backend, where the state
// gateways of a fleet share lives (rate-limit windows, connection slots,
// AUTH lock-outs, greylisting, suspensions, DMARC evaluations, TLS
// report counts and the record of the reports sent, the backup MX's
// callout answers): in-process, Redis or PostgreSQL.
//
// Open runs as root before the server drops privileges, because the
// database's password file may be root's alone; it does not connect.
// Check, once privileges are dropped, asks the backend once (PostgreSQL's
// tables are created then).
package sharedstate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"postern/internal/config"
	"postern/internal/dmarcreport"
	"postern/internal/ratelimit"
	"postern/internal/sharedmaps"
	"postern/internal/tlsrpt"
)

// Store is the backend and the on_backend_error policy that goes with it.
type Store struct {
	Backend ratelimit.Backend
	Guard   *ratelimit.Guard
	// dmarc is the fleet's DMARC store with a shared backend.
	dmarc DMARCStore
	// tls is the fleet's TLS report counts with a shared backend.
	tls tlsrpt.Tally
	// shared is set for a backend other nodes see (Redis, PostgreSQL).
	shared bool
	kind   string // "redis", "postgres" or "memory": [ratelimit] backend
	where  string // its URL without the password, for messages
}

// DMARCStore is where DMARC evaluations and the record of the reports
// sent are kept.
type DMARCStore interface {
	dmarcreport.Backend
	Close() error
}

// DMARCStore returns the fleet's store in Redis or PostgreSQL (one
// report per domain and period for every node), else this node's own in
// dir.
func (s *Store) DMARCStore(dir string, log *slog.Logger) (DMARCStore, error) {
	if s.dmarc != nil {
		// A node that kept its own store before joins the fleet's with it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dmarcreport.Adopt(ctx, dir, s.dmarc, log); err != nil {
			log.Error("dmarc: this node's own report store is not handed to the shared one yet; tried again at the next start", "dir", dir, "err", err)
		}
		return s.dmarc, nil
	}
	return dmarcreport.NewFileBackend(dir, log)
}

// TLSReports returns the fleet's TLS report counts and the record of
// the reports sent, in Redis or PostgreSQL (one report per policy domain
// and day for every node); nil, nil for this node's own files.
func (s *Store) TLSReports(log *slog.Logger) (tlsrpt.Counts, tlsrpt.Claims) {
	if s == nil || s.tls == nil {
		return nil, nil
	}
	claims, ok := s.dmarc.(tlsrpt.Claims)
	if !ok {
		return nil, nil
	}
	return tlsrpt.NewSharedStore(s.tls, log, tlsrpt.Limits{}), claims
}

// Shared is the backend other nodes see, where the backup MX keeps its
// callout answers for the fleet (backupmx.Cache's Shared); nil with
// backend = "memory".
func (s *Store) Shared() ratelimit.Backend {
	if s == nil || !s.shared {
		return nil
	}
	return s.Backend
}

// Open builds the configured backend.
func Open(cfg *config.Config, log *slog.Logger) (*Store, error) {
	rl := cfg.RateLimit
	s := &Store{Guard: &ratelimit.Guard{FailOpen: rl.OnBackendError != "fail_closed", Log: log}}
	s.shared = rl.Backend == "redis" || rl.Backend == "postgres"
	s.kind = rl.Backend
	switch rl.Backend {
	case "redis":
		r, err := ratelimit.OpenRedis(ratelimit.RedisOptions{URL: rl.RedisURL, Prefix: rl.RedisPrefix}, log)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: %w", err)
		}
		s.Backend = r
		s.where = ratelimit.Redacted(rl.RedisURL)
		s.dmarc = dmarcreport.NewRedis(r.Client())
		s.tls = tlsrpt.NewRedis(r.Client())
	case "postgres":
		pw, err := sharedmaps.ReadPassword("ratelimit.postgres_password_file", rl.PostgresPasswordFile)
		if err != nil {
			return nil, err
		}
		p, err := ratelimit.NewPostgres(ratelimit.PostgresOptions{URL: rl.PostgresURL, Password: pw, Prefix: rl.RedisPrefix})
		if err != nil {
			return nil, fmt.Errorf("ratelimit: %w", err)
		}
		s.Backend = p
		s.where = p.Where()
		dp, err := dmarcreport.NewPostgres(rl.PostgresURL, pw)
		if err != nil {
			return nil, err
		}
		s.dmarc = dp
		s.tls = tlsrpt.NewPostgres(dp.Pool())
	default:
		s.Backend = ratelimit.NewMemory(ratelimit.MemoryOptions{})
	}
	return s, nil
}

// Check asks a shared backend once. One that does not answer is logged,
// not fatal: on_backend_error decides per check while it is away.
func (s *Store) Check(cfg *config.Config, log *slog.Logger) {
	if err := s.Ping(); err != nil {
		log.Error("ratelimit: "+cfg.RateLimit.Backend+" unreachable at start", "url", s.where,
			"err", err, "on_backend_error", cfg.RateLimit.OnBackendError)
	}
}

// Ping asks a shared backend once (PostgreSQL: and creates the tables);
// nil for the in-process one.
func (s *Store) Ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	switch b := s.Backend.(type) {
	case *ratelimit.Redis:
		return b.Ping(ctx)
	case *ratelimit.Postgres:
		return b.Ping(ctx)
	}
	return nil
}

// Close closes the backend and the DMARC store.
func (s *Store) Close() error {
	if s.dmarc != nil {
		s.dmarc.Close()
	}
	return s.Backend.Close()
}
