package dkim

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	pdns "postern/internal/dns"
)

// What decided a selector's state, as Decision.Why.
const (
	WhyTime       = "time"       // pending: its activate or activate_after time has not come
	WhyDNS        = "dns"        // pending: an older selector signs until this one's record is known to match
	WhyFirst      = "first"      // active: the only selector of its algorithm whose time has come
	WhyPublished  = "published"  // active: took over once its record matched its key
	WhyForced     = "forced"     // active: took over with force = true, without its record checked
	WhySuperseded = "superseded" // retired: a newer selector of its algorithm signs
	WhyRetired    = "retired"    // retired: retired = true
)

// Decision is a selector's state at a time and why.
type Decision struct {
	State string    // StatePending, StateActive or StateRetired
	Why   string    // one of the Why values
	At    time.Time // when its time gate opens (or opened)
}

// Decide gives each selector's state at now. Per algorithm, among the
// selectors not retired whose time has come (activate, else created +
// activateAfter), the newest one that is published (its record found to
// match, Selector.Published) or forced signs. When none is, the oldest
// one signs: the first selector of a domain starts on its time alone,
// as there is no older key to keep signing with. The others are retired
// when older than the one that signs, pending when newer.
func Decide(sels []Selector, now time.Time, activateAfter time.Duration) map[string]Decision {
	out := map[string]Decision{}
	ready := map[string][]Selector{}
	for _, s := range sels {
		at := s.ActivatesAt(activateAfter)
		switch {
		case s.Retired:
			out[s.Name] = Decision{State: StateRetired, Why: WhyRetired, At: at}
		case now.Before(at):
			out[s.Name] = Decision{State: StatePending, Why: WhyTime, At: at}
		default:
			ready[s.Algo] = append(ready[s.Algo], s)
		}
	}
	for _, group := range ready {
		sort.SliceStable(group, func(i, j int) bool {
			return group[i].ActivatesAt(activateAfter).Before(group[j].ActivatesAt(activateAfter))
		})
		signer, why := 0, WhyFirst
		for i := len(group) - 1; i >= 0; i-- {
			if group[i].Force {
				signer, why = i, WhyForced
				break
			}
			if !group[i].Published.IsZero() {
				signer, why = i, WhyPublished
				break
			}
		}
		for i, s := range group {
			d := Decision{State: StateActive, Why: why, At: s.ActivatesAt(activateAfter)}
			if i < signer {
				d.State, d.Why = StateRetired, WhySuperseded
			} else if i > signer {
				d.State, d.Why = StatePending, WhyDNS
			}
			out[s.Name] = d
		}
	}
	return out
}

// Why a selector's record does not publish its key, as CheckPublished
// wraps them.
var (
	ErrRecordMissing = errors.New("not published")
	ErrRecordDiffers = errors.New("different key")
	ErrRecordLookup  = errors.New("lookup failed")
)

// TXTResolver is what CheckPublished and the Signer need from DNS.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// CheckPublished looks up the key record of selector in domain and
// checks that it publishes key (RecordMatches). The error wraps
// ErrRecordMissing, ErrRecordDiffers or ErrRecordLookup.
func CheckPublished(ctx context.Context, r TXTResolver, domain, selector string, key crypto.Signer) error {
	name := RecordName(selector, domain)
	txts, err := r.LookupTXT(ctx, name)
	if pdns.IsNotFound(err) || (err == nil && len(txts) == 0) {
		return fmt.Errorf("%w: %s", ErrRecordMissing, name)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRecordLookup, err)
	}
	if err := RecordMatches(txts, key); err != nil {
		return fmt.Errorf("%w: %v", ErrRecordDiffers, err)
	}
	return nil
}

// publishedSuffix names the file where the server notes that a
// selector's record matched: DIR/DOMAIN/SELECTOR.published, holding the
// time and the record.
const publishedSuffix = ".published"

func publishedPath(dir, domain, selector string) string {
	return filepath.Join(dir, domain, selector+publishedSuffix)
}

// readPublished returns when the selector's record was found to match,
// or zero when it was not, or when the note is for another key than the
// one on disk now.
func readPublished(dir, domain, selector string) (time.Time, error) {
	b, err := os.ReadFile(publishedPath(dir, domain, selector))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	stamp, rec, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	at, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		return time.Time{}, nil // not ours: as if absent
	}
	key, err := LoadKey(KeyPath(dir, domain, selector))
	if err != nil {
		return time.Time{}, err
	}
	if want, err := PublicRecord(key); err != nil || want != rec {
		return time.Time{}, nil
	}
	return at, nil
}

// writePublished notes that the selector's record matched its key at.
func writePublished(dir, domain, selector string, key crypto.Signer, at time.Time) error {
	rec, err := PublicRecord(key)
	if err != nil {
		return err
	}
	return writeFileAtomic(publishedPath(dir, domain, selector), []byte(at.UTC().Format(time.RFC3339)+"\n"+rec+"\n"))
}
