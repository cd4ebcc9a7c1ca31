package dnsrecords

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"postern/internal/dkim"
	"postern/internal/dmarc"
	pdns "postern/internal/dns"
)

// Mismatch is a record that DNS does not hold as it should.
type Mismatch struct {
	Want    Record
	Found   []string // the relevant records DNS holds
	Problem string
}

func (m Mismatch) String() string {
	s := fmt.Sprintf("%s %s %s: %s", m.Want.Purpose, m.Want.Name, m.Want.Type, m.Problem)
	if len(m.Found) > 0 {
		s += fmt.Sprintf(" (found %q)", m.Found)
	}
	return s
}

// Compare checks each wanted record against DNS and returns what is
// missing or different. Differences that are legitimate choices are not
// reported: a stricter DMARC policy than the p=none starting point, or
// any MTA-STS id. The MTA-STS policy file is not fetched.
func Compare(ctx context.Context, resolver pdns.Resolver, domain string, want []Record) []Mismatch {
	var out []Mismatch
	for _, w := range want {
		if m, bad := compareOne(ctx, resolver, w); bad {
			out = append(out, m)
		}
	}
	return out
}

// compareOne checks one wanted record against DNS. It reports true, with
// the problem, when DNS does not hold the record as it should. The
// policy file (type FILE) and unknown types are not checked.
func compareOne(ctx context.Context, resolver pdns.Resolver, w Record) (Mismatch, bool) {
	m := Mismatch{Want: w}
	switch w.Type {
	case "MX":
		m.Found, m.Problem = compareMX(ctx, resolver, w)
	case "TXT":
		m.Found, m.Problem = compareTXT(ctx, resolver, w)
	}
	return m, m.Problem != ""
}

// compareMX looks for an MX record of w.Name pointing to the host that w
// names. It returns the MX records seen, and the problem ("" for none).
func compareMX(ctx context.Context, resolver pdns.Resolver, w Record) (found []string, problem string) {
	mxs, err := resolver.LookupMX(ctx, w.Name)
	if err != nil && !pdns.IsNotFound(err) {
		return nil, "lookup failed: " + err.Error()
	}
	fields := strings.Fields(w.Value)
	want := strings.ToLower(strings.TrimSuffix(fields[len(fields)-1], "."))
	for _, mx := range mxs {
		h := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		found = append(found, fmt.Sprintf("%d %s.", mx.Pref, h))
		if h == want {
			return found, ""
		}
	}
	return found, "no MX record points to " + want
}

// compareTXT finds the TXT records of w.Name of w's kind (those with its
// version tag) and checks them by the rule for w.Purpose. It returns the
// records of that kind, and the problem ("" for none).
func compareTXT(ctx context.Context, resolver pdns.Resolver, w Record) (found []string, problem string) {
	if w.Value == "" {
		return nil, "nothing to compare: " + w.Note
	}
	txts, err := resolver.LookupTXT(ctx, w.Name)
	if err != nil && !pdns.IsNotFound(err) {
		return nil, "lookup failed: " + err.Error()
	}
	rule := txtRules[w.Purpose]
	for _, t := range txts {
		if hasVersion(t, rule.tag) {
			found = append(found, t)
		}
	}
	switch {
	case len(found) == 0:
		return found, "missing"
	case len(found) > 1 && w.Purpose != "DKIM":
		// RFC 7208 4.5 and RFC 7489 6.6.3: several records mean none is used.
		return found, "several records; receivers will ignore them all"
	}
	if rule.check == nil {
		return found, ""
	}
	return found, rule.check(w.Value, found)
}

// txtRule is how one kind of TXT record is recognised and checked.
type txtRule struct {
	tag string // the version tag that marks the record
	// check compares the records found with the value wanted and
	// returns the problem, "" for none. found holds one record, or for
	// DKIM one or more.
	check func(want string, found []string) string
}

// txtRules are the rules by purpose. A stricter DMARC policy than the
// p=none starting point is a legitimate choice, and so is any MTA-STS id.
var txtRules = map[string]txtRule{
	"SPF":     {tag: "v=spf1", check: sameText},
	"DKIM":    {tag: "v=DKIM1", check: sameKey},
	"DMARC":   {tag: "v=DMARC1", check: reportsReach},
	"MTA-STS": {tag: "v=STSv1", check: hasID},
	"TLSRPT":  {tag: "v=TLSRPTv1", check: sameText},
}

// sameText wants the record as it is, but for case and spacing.
func sameText(want string, found []string) string {
	if normalizeTXT(found[0]) != normalizeTXT(want) {
		return "differs from " + quote(want)
	}
	return ""
}

// sameKey wants one of the DKIM records found to publish the key wanted,
// as internal/dkim compares them (dkim.MatchKeyRecord: the record
// parsed, its k= and p= against the key). The problem is told from the
// last record.
func sameKey(want string, found []string) string {
	rec, err := dkim.ParseKeyRecord(want)
	if err != nil {
		return "the wanted record is invalid: " + err.Error()
	}
	pub := crypto.PublicKey(rec.Ed25519)
	if rec.RSA != nil {
		pub = rec.RSA
	}
	for _, f := range found {
		if err = dkim.MatchKeyRecord(f, pub); err == nil {
			return ""
		}
	}
	if errors.Is(err, dkim.ErrKeyRevoked) {
		return "the published key is empty (revoked)"
	}
	return "the published key is not the key on disk"
}

// reportsReach wants a valid DMARC record whose rua includes every
// address of the wanted one; the policy may differ.
func reportsReach(want string, found []string) string {
	rec, err := dmarc.ParseRecord(found[0])
	if err != nil {
		return "invalid: " + err.Error()
	}
	wantRec, _ := dmarc.ParseRecord(want)
	for _, wu := range wantRec.RUA {
		included := false
		for _, gu := range rec.RUA {
			included = included || strings.EqualFold(gu.Address(), wu.Address())
		}
		if !included {
			return "rua does not include " + wu.URI + "; postern's reports would not reach you"
		}
	}
	return ""
}

// hasID wants an MTA-STS record with an id, whatever it is.
func hasID(want string, found []string) string {
	if tagValue(found[0], "id") == "" {
		return "no id tag"
	}
	return ""
}

func hasVersion(txt, tag string) bool {
	first, _, _ := strings.Cut(txt, ";")
	if tag == "v=spf1" {
		// RFC 7208 4.5: "v=spf1" followed by a space or the end.
		return strings.EqualFold(txt, tag) || strings.HasPrefix(strings.ToLower(txt), tag+" ")
	}
	return strings.ReplaceAll(strings.TrimSpace(first), " ", "") == tag
}

func normalizeTXT(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(s, ";", "; ")), " "))
}

// tagValue returns a tag's value from a tag=value list, whitespace removed.
func tagValue(s, name string) string {
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}
