package dkimkeys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"postern/internal/dkim"
)

// Status writes, per domain, which selectors sign today and, for each
// selector not retired, whether DNS holds its record. ok is false when
// an active selector's record is missing or wrong, or a schedule cannot
// be read; err is set when the key directory cannot be read.
func (k *Keys) Status(ctx context.Context, out io.Writer) (ok bool, err error) {
	entries, err := os.ReadDir(k.Dir)
	if os.IsNotExist(err) {
		fmt.Fprintf(out, "No DKIM keys in %s; make one with: postern dkim keygen -domain DOMAIN -selector SELECTOR\n", k.Dir)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var domains []string
	for _, e := range entries {
		if e.IsDir() && dkim.ValidDomain(e.Name()) {
			domains = append(domains, e.Name())
		}
	}
	sort.Strings(domains)
	ok = true
	now := time.Now()
	for _, d := range domains {
		if !k.domainStatus(ctx, out, d, now) {
			ok = false
		}
	}
	return ok, nil
}

// domainStatus writes the status of one domain's selectors: for each,
// the gate that holds it or why it signs, and its DNS record.
func (k *Keys) domainStatus(ctx context.Context, out io.Writer, d string, now time.Time) (ok bool) {
	sels, err := dkim.ReadSchedule(k.Dir, d)
	if err != nil {
		fmt.Fprintf(out, "%s: %v\n", d, err)
		return false
	}
	states := dkim.Decide(sels, now, k.ActivateAfter)
	var signing []string
	for _, s := range sels {
		if states[s.Name].State == dkim.StateActive {
			signing = append(signing, s.Name+" ("+s.Algo+")")
		}
	}
	if len(signing) == 0 {
		fmt.Fprintf(out, "%s: not signing today (no active selector)\n", d)
	} else {
		fmt.Fprintf(out, "%s: signs today with %s\n", d, strings.Join(signing, ", "))
	}
	ok = true
	for _, s := range sels {
		st := states[s.Name]
		dnsNote, dnsErr := "-", error(nil)
		if st.State != dkim.StateRetired {
			dnsNote, dnsErr = k.published(ctx, d, s.Name)
			if st.State == dkim.StateActive && dnsErr != nil {
				ok = false
			}
		}
		fmt.Fprintf(out, "  %-20s %-8s %-8s %-44s %s\n", s.Name, s.Algo, st.State, gateNote(s, st, dnsErr), dnsNote)
	}
	return ok
}

// gateNote says which gate holds a selector, or why it signs or not;
// dnsErr is what the lookup of its record found (nil: it matches).
func gateNote(s dkim.Selector, st dkim.Decision, dnsErr error) string {
	at := st.At.UTC().Format(time.RFC3339)
	switch st.Why {
	case dkim.WhyTime:
		if !s.Activate.IsZero() {
			return "waiting for activate until " + at
		}
		return "waiting for activate_after until " + at
	case dkim.WhyDNS:
		if dnsErr == nil {
			return "waiting for the server's next DNS check (the record matches)"
		}
		return "waiting for its DNS record (" + dnsErr.Error() + ")"
	case dkim.WhyForced:
		return "forced, signing since " + at
	case dkim.WhyFirst, dkim.WhyPublished:
		return "signing since " + at
	case dkim.WhyRetired:
		return "retired (retired = true)"
	}
	return "retired, made " + s.Created.UTC().Format(time.RFC3339)
}

// published looks up a selector's record and compares it with the key;
// it returns the note for status and the comparison's error.
func (k *Keys) published(ctx context.Context, domain, selector string) (string, error) {
	key, err := dkim.LoadKey(dkim.KeyPath(k.Dir, domain, selector))
	if err != nil {
		return "key unreadable: " + err.Error(), err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = dkim.CheckPublished(ctx, k.Resolver, domain, selector, key)
	switch {
	case err == nil:
		return "DNS ok", nil
	case errors.Is(err, dkim.ErrRecordMissing):
		return "DNS missing: publish " + dkim.RecordName(selector, domain), err
	case errors.Is(err, dkim.ErrRecordLookup):
		return "DNS error: " + err.Error(), err
	}
	return "DNS wrong: " + err.Error(), err
}
