package mailauth

import (
	"net/mail"
	"regexp"
	"strings"
)

// maxFromDomains bounds the DMARC evaluations one message can cause.
const maxFromDomains = 10

// domainAfterAt finds the domain of each address-like word, for a From
// field that does not parse as an address list.
var domainAfterAt = regexp.MustCompile(`@([A-Za-z0-9\x80-\xff](?:[A-Za-z0-9\x80-\xff.-]*[A-Za-z0-9\x80-\xff])?)`)

// fromDomains returns the distinct author domains (lower case, no
// trailing dot) of the From field values, in order of appearance.
//
// RFC 7489 6.6.1: with several addresses in the From field, each of their
// domains is an Author Domain and the strictest failing policy applies.
// A value that is not a valid address list (so that a reader's display
// and our check could differ) gives the domain of every "@name" in it.
func fromDomains(values []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if d == "" || seen[d] || len(out) >= maxFromDomains {
			return
		}
		seen[d] = true
		out = append(out, d)
	}
	for _, v := range values {
		list, err := mail.ParseAddressList(v)
		if err == nil && len(list) > 0 {
			for _, a := range list {
				if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
					add(a.Address[at+1:])
				}
			}
			continue
		}
		for _, m := range domainAfterAt.FindAllStringSubmatch(v, -1) {
			add(m[1])
		}
	}
	return out
}
