package dnsrecords

import (
	"context"
	"fmt"
	"strings"

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

// versionTag is the tag that marks each kind of TXT record.
func versionTag(purpose string) string {
	switch purpose {
	case "SPF":
		return "v=spf1"
	case "DKIM":
		return "v=DKIM1"
	case "DMARC":
		return "v=DMARC1"
	case "MTA-STS":
		return "v=STSv1"
	case "TLSRPT":
		return "v=TLSRPTv1"
	}
	return ""
}

func compareOne(ctx context.Context, resolver pdns.Resolver, w Record) (Mismatch, bool) {
	m := Mismatch{Want: w}
	switch w.Type {
	case "FILE":
		return m, false
	case "MX":
		mxs, err := resolver.LookupMX(ctx, w.Name)
		if err != nil && !pdns.IsNotFound(err) {
			m.Problem = "lookup failed: " + err.Error()
			return m, true
		}
		want := strings.ToLower(strings.TrimSuffix(strings.Fields(w.Value)[len(strings.Fields(w.Value))-1], "."))
		for _, mx := range mxs {
			h := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
			m.Found = append(m.Found, fmt.Sprintf("%d %s.", mx.Pref, h))
			if h == want {
				return m, false
			}
		}
		m.Problem = "no MX record points to " + want
		return m, true
	case "TXT":
	default:
		return m, false
	}
	if w.Value == "" {
		m.Problem = "nothing to compare: " + w.Note
		return m, true
	}
	txts, err := resolver.LookupTXT(ctx, w.Name)
	if err != nil && !pdns.IsNotFound(err) {
		m.Problem = "lookup failed: " + err.Error()
		return m, true
	}
	tag := versionTag(w.Purpose)
	for _, t := range txts {
		if hasVersion(t, tag) {
			m.Found = append(m.Found, t)
		}
	}
	switch {
	case len(m.Found) == 0:
		m.Problem = "missing"
		return m, true
	case len(m.Found) > 1 && w.Purpose != "DKIM":
		// RFC 7208 4.5 and RFC 7489 6.6.3: several records mean none is used.
		m.Problem = "several records; receivers will ignore them all"
		return m, true
	}
	got := m.Found[0]
	switch w.Purpose {
	case "SPF", "TLSRPT":
		if normalizeTXT(got) != normalizeTXT(w.Value) {
			m.Problem = "differs from " + quote(w.Value)
			return m, true
		}
	case "DKIM":
		wp, gp := tagValue(w.Value, "p"), ""
		for _, f := range m.Found {
			if gp = tagValue(f, "p"); gp == wp {
				return m, false
			}
		}
		if gp == "" {
			m.Problem = "the published key is empty (revoked)"
		} else {
			m.Problem = "the published key is not the key on disk"
		}
		return m, true
	case "DMARC":
		rec, err := dmarc.ParseRecord(got)
		if err != nil {
			m.Problem = "invalid: " + err.Error()
			return m, true
		}
		wantRec, _ := dmarc.ParseRecord(w.Value)
		for _, wu := range wantRec.RUA {
			found := false
			for _, gu := range rec.RUA {
				found = found || strings.EqualFold(gu.Address(), wu.Address())
			}
			if !found {
				m.Problem = "rua does not include " + wu.URI + "; postern's reports would not reach you"
				return m, true
			}
		}
	case "MTA-STS":
		if tagValue(got, "id") == "" {
			m.Problem = "no id tag"
			return m, true
		}
	}
	return m, false
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
