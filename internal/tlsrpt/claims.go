package tlsrpt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Claims is the record of the reports sent, kept on disk:
// dmarcreport.FileBackend is one. Claim records key and reports whether
// this caller recorded it first; Prune drops the keys of the periods
// that ended before a time.
type Claims interface {
	Claim(ctx context.Context, key string) (bool, error)
	Claimed(ctx context.Context, key string) (bool, error)
	Prune(before time.Time) error
}

// Retention is how long after its day a report missed by downtime or a
// crash is still sent, and how long the day's counts are kept.
const Retention = 7 * 24 * time.Hour

// period is one report day [begin, end).
type period struct{ begin, end time.Time }

func dayPeriod(begin time.Time) period { return period{begin, begin.Add(24 * time.Hour)} }

// The claim keys start as dmarcreport's do, aggregate-<begin>-<end>
// (Unix seconds), so that its FileBackend prunes them with their period:
//
//	aggregate-<begin>-<end>.tlsrpt-sent-<hash>    one report sent to one rua (domain and URI hashed)
//	aggregate-<begin>-<end>.tlsrpt-domain-<hash>  every report of one policy domain sent
//	aggregate-<begin>-<end>.tlsrpt-done           every report of the day sent
func (p period) key(kind string) string {
	return fmt.Sprintf("aggregate-%d-%d.tlsrpt-%s", p.begin.Unix(), p.end.Unix(), kind)
}

func (p period) doneKey() string { return p.key("done") }

func (p period) domainKey(domain string) string { return p.key("domain-" + digest(domain)) }

func (p period) sentKey(domain, uri string) string { return p.key("sent-" + digest(domain, uri)) }

// digest hashes names for a claim key.
func digest(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:12])
}
