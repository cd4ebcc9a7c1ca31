package sharedstate

import (
	"context"
	"fmt"
	"time"

	"postern/internal/dmarcreport"
)

// sentTimeout bounds how long a page waits for the list of reports sent.
const sentTimeout = 3 * time.Second

// DMARCSent is where the record of the DMARC aggregate reports sent is
// read, for the console: the fleet's shared store when there is one (the
// store the report sender claims its reports in, so every node lists
// every node's reports), else this node's own record in dir. An error
// from the shared store names it and says how to fix it.
func (s *Store) DMARCSent(dir string) dmarcreport.SentLister {
	if s == nil || s.dmarc == nil {
		return fileSent(dir)
	}
	l, ok := s.dmarc.(dmarcreport.SentLister)
	if !ok {
		return fileSent(dir)
	}
	return sharedSent{l: l, kind: s.kind, where: s.where}
}

// fileSent is this node's own record, in the DMARC data directory.
type fileSent string

func (d fileSent) Sent(ctx context.Context, since time.Time) ([]dmarcreport.SentPeriod, error) {
	return dmarcreport.SentReports(string(d), since)
}

// sharedSent is the fleet's record in Redis or PostgreSQL.
type sharedSent struct {
	l           dmarcreport.SentLister
	kind, where string
}

func (s sharedSent) Sent(ctx context.Context, since time.Time) ([]dmarcreport.SentPeriod, error) {
	ctx, cancel := context.WithTimeout(ctx, sentTimeout)
	defer cancel()
	out, err := s.l.Sent(ctx, since)
	if err != nil {
		key := "redis_url"
		if s.kind == "postgres" {
			key = "postgres_url (and postgres_password_file)"
		}
		return nil, fmt.Errorf("the fleet's shared store does not answer (%s at %s, the [ratelimit] backend, where every node records the reports it sent): %v. "+
			"Start it, or check that this node reaches it and that [ratelimit] %s is right; `postern check` tries it", s.kind, s.where, err, key)
	}
	return out, nil
}
