package arc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"postern/internal/dmarc"
)

// Override is a trusted sealer's chain vouching for a message that
// failed DMARC here: who sealed it and what its AAR showed.
type Override struct {
	Sealer   string // d= of the newest ARC-Seal
	Instance int
	Evidence string // the result in the AAR that decided, e.g. "dmarc=pass"
}

// Comment is the override as the DMARC report's local_policy reason and
// the log give it.
func (o Override) Comment() string {
	return fmt.Sprintf("arc: trusted sealer %s (i=%d) saw %s", o.Sealer, o.Instance, o.Evidence)
}

// Trusted decides whether the chain lets a DMARC failure of fromDomain
// go (local policy: RFC 7489 6.7 lets a receiver override a DMARC
// policy, RFC 8617 7.2 lets it use the chain to decide). It does when
// the chain passed, the newest ARC set was sealed by a domain in
// trusted (exactly, letter case ignored), and that set's AAR shows
// that the sealer authenticated the mail: dmarc=pass for fromDomain, or
// when it records no DMARC result for it, dkim=pass for a domain
// aligned with fromDomain or spf=pass for an aligned MAIL FROM (relaxed
// alignment, RFC 7489 3.1). Only the newest set counts: it is the
// sealer the message came from, and an older sealer's results say
// nothing about what happened to the message after it.
func (r Result) Trusted(trusted []string, fromDomain string) (Override, bool) {
	if r.CV != Pass || len(r.Hops) == 0 || fromDomain == "" {
		return Override{}, false
	}
	hop := r.Hops[len(r.Hops)-1]
	if !inList(trusted, hop.Sealer) {
		return Override{}, false
	}
	o := Override{Sealer: hop.Sealer, Instance: hop.Instance}
	var aligned string
	for _, s := range hop.Results {
		res := parseResult(s)
		switch res.method {
		case "dmarc":
			if sameDomain(res.props["header.from"], fromDomain) {
				o.Evidence = "dmarc=" + res.value
				return o, res.value == "pass"
			}
		case "dkim":
			d := res.props["header.d"]
			if d == "" {
				d = domainOf(res.props["header.i"])
			}
			if aligned == "" && res.value == "pass" && dmarc.Aligned(dmarc.AlignRelaxed, d, fromDomain) {
				aligned = "dkim=pass header.d=" + d
			}
		case "spf":
			d := domainOf(res.props["smtp.mailfrom"])
			if aligned == "" && res.value == "pass" && dmarc.Aligned(dmarc.AlignRelaxed, d, fromDomain) {
				aligned = "spf=pass smtp.mailfrom=" + d
			}
		}
	}
	o.Evidence = aligned
	return o, aligned != ""
}

func inList(list []string, d string) bool {
	for _, t := range list {
		if sameDomain(t, d) {
			return true
		}
	}
	return false
}

func sameDomain(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }

// AuthResult is the arc= clause of Authentication-Results (RFC 8617
// 10.1, RFC 8601 2.7): the status, the oldest-pass instance when the
// chain passed, and why it failed. over, when set, is a DMARC failure
// this chain overrode. RFC 8617 5.2.1: every error, a DNS failure too,
// is a permanent fail.
func (r Result) AuthResult(over *Override) authres.Result {
	value := r.CV
	if value == "" {
		value = None
	}
	params := map[string]string{}
	if r.CV == Pass {
		params["header.oldest-pass"] = strconv.Itoa(r.OldestPass)
	}
	if r.Reason != "" {
		params["reason"] = r.Reason
	}
	if over != nil {
		params["reason"] = "DMARC failure overridden: " + over.Comment()
	}
	return &authres.GenericResult{Method: "arc", Value: authres.ResultValue(value), Params: params}
}

// StatusOf reads the chain status we recorded for a message: the arc=
// result in the Authentication-Results value v (written by AuthResult),
// "" when it has none. The sealer takes cv from it.
func StatusOf(v string) string {
	for _, s := range splitResults(v) {
		if r := parseResult(s); r.method == "arc" {
			return r.value
		}
	}
	return ""
}
