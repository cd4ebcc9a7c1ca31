package dkimkeys

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"postern/internal/dkim"
	"postern/internal/dns"
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

// domainStatus writes the status of one domain's selectors.
func (k *Keys) domainStatus(ctx context.Context, out io.Writer, d string, now time.Time) (ok bool) {
	sels, err := dkim.ReadSchedule(k.Dir, d)
	if err != nil {
		fmt.Fprintf(out, "%s: %v\n", d, err)
		return false
	}
	states := dkim.States(sels, now, k.ActivateAfter)
	var signing []string
	for _, s := range sels {
		if states[s.Name] == dkim.StateActive {
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
		state := states[s.Name]
		when := ""
		switch state {
		case dkim.StatePending:
			when = "signs from " + s.ActivatesAt(k.ActivateAfter).UTC().Format(time.RFC3339)
		case dkim.StateActive:
			when = "since " + s.ActivatesAt(k.ActivateAfter).UTC().Format(time.RFC3339)
		case dkim.StateRetired:
			when = "made " + s.Created.UTC().Format(time.RFC3339)
		}
		dnsNote := "-"
		if state != dkim.StateRetired {
			dnsNote = k.published(ctx, d, s.Name)
			if state == dkim.StateActive && dnsNote != "DNS ok" {
				ok = false
			}
		}
		fmt.Fprintf(out, "  %-20s %-8s %-8s %-36s %s\n", s.Name, s.Algo, state, when, dnsNote)
	}
	return ok
}

// published looks up a selector's record and compares it with the key.
func (k *Keys) published(ctx context.Context, domain, selector string) string {
	key, err := dkim.LoadKey(dkim.KeyPath(k.Dir, domain, selector))
	if err != nil {
		return "key unreadable: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name := dkim.RecordName(selector, domain)
	txts, err := k.Resolver.LookupTXT(ctx, name)
	if dns.IsNotFound(err) {
		return "DNS missing: publish " + name
	}
	if err != nil {
		return "DNS error: " + err.Error()
	}
	if err := dkim.RecordMatches(txts, key); err != nil {
		return "DNS wrong: " + err.Error()
	}
	return "DNS ok"
}
