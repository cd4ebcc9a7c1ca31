package dkimkeys

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"postern/internal/dkim"
)

// Request is what `postern dkim SUB` was asked to do.
type Request struct {
	Domain, Selector string // keygen, activate
	Algo             string // keygen: dkim.AlgoRSA or dkim.AlgoEd25519
	Force            bool   // activate: without waiting for the DNS record
}

// Subcommands are the words `postern dkim` takes.
var Subcommands = []string{"keygen", "activate", "status"}

// Run does `postern dkim SUB` and returns its exit status: 2 for a bad
// request, 1 for a failure (or, for status, an active selector whose
// record is missing or wrong), else 0.
func (k *Keys) Run(ctx context.Context, sub string, req Request, out, errw io.Writer) int {
	domain := strings.ToLower(strings.TrimSuffix(req.Domain, "."))
	var err error
	switch sub {
	case "keygen":
		err = k.Keygen(domain, req.Selector, strings.ToLower(req.Algo), out)
	case "activate":
		err = k.Activate(domain, req.Selector, req.Force, out)
	default:
		var ok bool
		if ok, err = k.Status(ctx, out); err == nil && !ok {
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(errw, "postern dkim %s: %v\n", sub, err)
		if IsUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}

// Activate opens the time gate of a selector now (activate = now in
// rotation.toml, or the time it opened already) and, with force, lets it take over from an older
// selector without waiting for its DNS record (force = true). The
// server reads the change within a minute.
func (k *Keys) Activate(domain, selector string, force bool, out io.Writer) error {
	if domain == "" || selector == "" {
		return usageError("-domain and -selector are required")
	}
	if !dkim.ValidDomain(domain) || !dkim.ValidSelector(selector) {
		return usageError(fmt.Sprintf("no selector %q of domain %q can exist", selector, domain))
	}
	now := time.Now().UTC().Truncate(time.Second)
	err := dkim.ChangeSelector(k.Dir, domain, selector, func(s *dkim.Selector) {
		// Written down, and only ever earlier: a later time would
		// make it newer than selectors that came after it.
		s.Activate = s.ActivatesAt(k.ActivateAfter)
		if s.Activate.After(now) {
			s.Activate = now
		}
		s.Force = s.Force || force
	})
	if err != nil {
		return err
	}
	if err := k.Owner.Give(k.Dir); err != nil {
		return err
	}
	sels, err := dkim.ReadSchedule(k.Dir, domain)
	if err != nil {
		return err
	}
	var sel dkim.Selector
	for _, s := range sels {
		if s.Name == selector {
			sel = s
		}
	}
	switch st := dkim.Decide(sels, now, k.ActivateAfter)[selector]; st.Why {
	case dkim.WhyDNS:
		fmt.Fprintf(out, "%s: selector %s takes over once its DNS record %s matches its key\n", domain, selector, dkim.RecordName(selector, domain))
		fmt.Fprintf(out, "(the server checks every [dkim] dns_check_interval); -force does not wait for it.\n")
	case dkim.WhyRetired:
		fmt.Fprintf(out, "%s: selector %s is retired (retired = true in %s); remove that line to use it.\n", domain, selector, dkim.ScheduleFile)
	default:
		fmt.Fprintf(out, "%s: selector %s: %s (the server takes the change within a minute).\n", domain, selector, gateNote(sel, st, nil))
	}
	return nil
}
