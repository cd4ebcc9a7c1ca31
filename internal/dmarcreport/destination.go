package dmarcreport

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"postern/internal/dmarc"
	pdns "postern/internal/dns"
)

// Report tags whose destinations a verification record may override.
const (
	tagRUA = "rua"
	tagRUF = "ruf"
)

// errTryLater marks a destination that could not be checked because DNS
// failed temporarily: the report is neither sent nor given up.
var errTryLater = errors.New("destination check failed temporarily; tried again later")

// destinations applies RFC 7489 7.1 to one report URI of policyDomain's
// record: it returns the mailto: URIs the report goes to, which are the
// URI itself, or the URIs the destination's verification record names
// instead, or none (with the reason) when the destination has not
// agreed to receive reports about policyDomain. The error is errTryLater
// (wrapped) when the verification record could not be looked up for a
// temporary reason.
func destinations(ctx context.Context, resolver pdns.Resolver, policyDomain, tag string, u dmarc.ReportURI) ([]dmarc.ReportURI, string, error) {
	rcpt := u.Address()
	if rcpt == "" {
		return nil, "only mailto: destinations are supported", nil
	}
	host := hostOf(u)
	if dmarc.OrganizationalDomain(host) == dmarc.OrganizationalDomain(policyDomain) {
		// RFC 7489 7.1: only a destination outside the policy domain's
		// Organizational Domain needs to confirm that it accepts reports.
		return []dmarc.ReportURI{u}, "", nil
	}
	// RFC 7489 7.1 steps 1-4: <policy-domain>._report._dmarc.<destination host>.
	name := strings.ToLower(strings.TrimSuffix(policyDomain, ".")) + "._report._dmarc." + host
	txts, err := resolver.LookupTXT(ctx, name)
	if err != nil && !pdns.IsNotFound(err) {
		return nil, fmt.Sprintf("%s: %v", name, err), fmt.Errorf("%s: %w: %v", name, errTryLater, err)
	}
	if err != nil {
		return nil, fmt.Sprintf("%s: %v", name, err), nil
	}
	override, err := verification(txts, tag, host)
	if err != nil {
		return nil, fmt.Sprintf("%s: %v", name, err), nil
	}
	if len(override) > 0 {
		return override, "", nil
	}
	return []dmarc.ReportURI{u}, "", nil
}

// Errors of verification.
var (
	errNotAuthorised   = errors.New("no v=DMARC1 record: the destination does not accept these reports")
	errOverrideOutside = errors.New("the record redirects reports to another host")
)

// verification reads the TXT strings of a destination's verification
// record (RFC 7489 7.1 steps 5-8). It returns an error unless one of
// them is a DMARC record, and the override URIs for tag (rua or ruf)
// when the records carry that tag; nil means no override.
func verification(txts []string, tag, host string) ([]dmarc.ReportURI, error) {
	var override []dmarc.ReportURI
	valid := 0
	for _, t := range txts {
		// RFC 7489 7.1 step 5: parse as tag=value pairs; v=DMARC1 must come first, others are discarded.
		r, err := dmarc.ParseRecord(t)
		if r == nil || errors.Is(err, dmarc.ErrNotDMARC) {
			continue
		}
		valid++
		uris := r.RUA
		if tag == tagRUF {
			uris = r.RUF
		}
		override = append(override, uris...)
	}
	// RFC 7489 7.1 steps 6-7: at least one valid record means the destination agreed.
	if valid == 0 {
		return nil, errNotAuthorised
	}
	for _, o := range override {
		// RFC 7489 7.1 step 8: "the overriding URI MUST use the same
		// destination host from the first step"; otherwise no report goes
		// to either the original or the override URI.
		if hostOf(o) != host {
			return nil, fmt.Errorf("%w (%s)", errOverrideOutside, o.URI)
		}
	}
	return override, nil
}

// hostOf returns the destination host of a report URI, lower case
// without a final dot: the mailbox's domain for mailto:, the URL's host
// otherwise.
func hostOf(u dmarc.ReportURI) string {
	var h string
	if a := u.Address(); a != "" {
		h = a[strings.LastIndexByte(a, '@')+1:]
	} else if pu, err := url.Parse(u.URI); err == nil {
		h = pu.Hostname()
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
