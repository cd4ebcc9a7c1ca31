package dmarcreport

import (
	"sort"
	"time"
)

// Day is one UTC day's DMARC results, by the day each report's period
// began.
type Day struct {
	Date string `json:"date"` // 2006-01-02
	Pass int64  `json:"pass"`
	Fail int64  `json:"fail"`
}

// The likely causes of a source's DMARC failures (see Cause).
const (
	CauseUnknown    = "unknown sender"
	CauseForwarding = "forwarding or a mailing list"
	CauseNoDKIM     = "missing DKIM"
	CauseUnaligned  = "not aligned"
)

// Failing is a source IP whose mail failed DMARC, with the likely cause.
type Failing struct {
	Tally
	Cause string `json:"cause"`
	// Why says in a sentence what the reports show and what to do.
	Why string `json:"why"`
}

// sourceSigns are what a source's records show about its mail.
type sourceSigns struct {
	dkimSigned  int64 // messages with a DKIM signature, whatever its result
	dkimBroken  int64 // messages with a DKIM signature that failed
	spfFail     int64 // messages whose SPF result was not pass
	spfAligned  int64 // messages with aligned SPF pass
	dkimAligned int64
}

func (s *sourceSigns) add(r Record) {
	n := int64(r.Row.Count)
	signed, broken := false, false
	for _, d := range r.AuthResults.DKIM {
		if d.Result != "" && d.Result != "none" {
			signed = true
		}
		if d.Result == "fail" || d.Result == "permerror" || d.Result == "temperror" || d.Result == "neutral" {
			broken = true
		}
	}
	if signed {
		s.dkimSigned += n
	}
	if broken {
		s.dkimBroken += n
	}
	spfPass := false
	for _, sp := range r.AuthResults.SPF {
		if sp.Result == "pass" {
			spfPass = true
		}
	}
	if !spfPass {
		s.spfFail += n
	}
	if r.Row.PolicyEvaluated.SPF == "pass" {
		s.spfAligned += n
	}
	if r.Row.PolicyEvaluated.DKIM == "pass" {
		s.dkimAligned += n
	}
}

// Cause is the likely cause of a source's failures, by these rules, in
// order:
//
//   - no aligned pass at all, no DKIM signature, SPF not passing: an
//     unknown sender (a server you did not list, or forgery);
//   - a DKIM signature that failed, with SPF not passing: forwarding or a
//     mailing list (the signature broke on the way, the forwarder is not
//     in your SPF);
//   - no DKIM signature, with aligned SPF passing for some of its mail:
//     missing DKIM (the source is yours; its forwarded mail fails);
//   - otherwise: SPF or DKIM pass, but for another domain than the
//     header From (not aligned).
func (s sourceSigns) cause(t Tally) (string, string) {
	switch {
	case t.Pass == 0 && s.dkimSigned == 0 && s.spfFail > 0:
		return CauseUnknown, "Nothing passes for your domain from this address. If it is your server or a service you use, add it to SPF and sign its mail with DKIM; otherwise it is forgery, which p=quarantine or p=reject stops."
	case s.dkimBroken > 0 && s.spfFail > 0:
		return CauseForwarding, "A DKIM signature was there but failed, and SPF fails: mail forwarded or rewritten on the way (a mailing list). ARC on the forwarder, or signing only what lists do not change, helps."
	case s.dkimSigned == 0 && s.spfAligned > 0:
		return CauseNoDKIM, "SPF passes for some of this source's mail but none is signed with DKIM, so its forwarded mail fails. Sign it with DKIM."
	}
	return CauseUnaligned, "SPF or DKIM pass, but for another domain than the header From. Have the sender sign with your domain (d=) or use your domain in the envelope sender."
}

// addDetail fills the per-reporter tallies, the days and the failing
// sources of s.
func (s *Summary) addDetail(reports []*Feedback) {
	byOrg, days := map[string]*Tally{}, map[string]*Day{}
	signs, bySrc := map[string]*sourceSigns{}, map[string]*Tally{}
	for _, f := range reports {
		date := time.Unix(int64(f.Metadata.DateRange.Begin), 0).UTC().Format("2006-01-02")
		d := days[date]
		if d == nil {
			d = &Day{Date: date}
			days[date] = d
		}
		for _, r := range f.Records {
			get(byOrg, f.Metadata.OrgName).add(r)
			get(bySrc, r.Row.SourceIP).add(r)
			sg := signs[r.Row.SourceIP]
			if sg == nil {
				sg = &sourceSigns{}
				signs[r.Row.SourceIP] = sg
			}
			sg.add(r)
			var t Tally
			t.add(r)
			d.Pass += t.Pass
			d.Fail += t.Fail
		}
	}
	s.ByReporter = sortTallies(byOrg)
	for _, d := range days {
		s.Days = append(s.Days, *d)
	}
	sort.Slice(s.Days, func(i, j int) bool { return s.Days[i].Date < s.Days[j].Date })
	for ip, t := range bySrc {
		if t.Fail == 0 {
			continue
		}
		cause, why := signs[ip].cause(*t)
		s.Failing = append(s.Failing, Failing{Tally: *t, Cause: cause, Why: why})
	}
	sort.Slice(s.Failing, func(i, j int) bool {
		if s.Failing[i].Fail != s.Failing[j].Fail {
			return s.Failing[i].Fail > s.Failing[j].Fail
		}
		return s.Failing[i].Key < s.Failing[j].Key
	})
}
