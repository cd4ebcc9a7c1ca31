package dmarc

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// AuthResult returns the result for an Authentication-Results header
// (RFC 7489 11.2: method dmarc, property header.from).
func (r Result) AuthResult() *authres.DMARCResult {
	ar := &authres.DMARCResult{Value: authres.ResultValue(r.Value), From: r.FromDomain}
	var why []string
	if r.Policy != "" {
		why = append(why, "p="+string(r.Policy))
	}
	if r.Disposition != PolicyNone && r.Value == ValueFail {
		why = append(why, "dis="+string(r.Disposition))
	}
	for _, re := range r.Reasons {
		why = append(why, re.Type)
	}
	ar.Reason = strings.Join(why, " ")
	return ar
}

// AuthResultsClause renders the "dmarc=..." clause of an
// Authentication-Results header, e.g.
// `dmarc=fail reason="p=reject dis=reject" header.from=example.com`.
func (r Result) AuthResultsClause() string {
	s := authres.Format("", []authres.Result{r.AuthResult()})
	return strings.TrimSpace(strings.TrimPrefix(s, ";"))
}
