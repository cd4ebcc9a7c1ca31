package dkim

import (
	"github.com/emersion/go-msgauth/authres"

	"postern/internal/smtp"
)

// Results of one signature, as RFC 8601 2.7.1 names them.
const (
	Pass      = "pass"
	Fail      = "fail"
	Policy    = "policy"
	Neutral   = "neutral"
	TempError = "temperror"
	PermError = "permerror"
	None      = "none"
)

// Result is the outcome of checking one DKIM-Signature.
type Result struct {
	Result    string // Pass, Fail, Policy, Neutral, TempError or PermError
	Reason    string // short words for the header and the log
	Domain    string // d=, the signing domain (SDID)
	Selector  string // s=
	AUID      string // i=, or "@" + d= when absent
	Algorithm string // a=
	B         string // b=, the signature, white space removed
	Err       error  // the verifier's error, for the log; nil on pass
}

// AuthResult returns the dkim= clause for Authentication-Results
// (RFC 8601 2.7.1), with header.d, header.i, header.s, header.a and the
// first 8 characters of header.b (RFC 6008 2, enough to tell signatures
// of one domain apart).
func (r Result) AuthResult() authres.Result {
	b := r.B
	if len(b) > 8 {
		b = b[:8]
	}
	return &authres.GenericResult{
		Method: "dkim",
		Value:  authres.ResultValue(r.Result),
		Params: map[string]string{
			"reason":   r.Reason,
			"header.d": smtp.Printable(r.Domain),
			"header.i": smtp.Printable(r.AUID),
			"header.s": smtp.Printable(r.Selector),
			"header.a": smtp.Printable(r.Algorithm),
			"header.b": smtp.Printable(b),
		},
	}
}

// AuthResults returns the dkim= clauses for a message: one per checked
// signature, or a single dkim=none when there were none (RFC 8601 2.7.1).
func AuthResults(results []Result) []authres.Result {
	if len(results) == 0 {
		return []authres.Result{&authres.GenericResult{Method: "dkim", Value: authres.ResultNone, Params: map[string]string{}}}
	}
	out := make([]authres.Result, len(results))
	for i, r := range results {
		out[i] = r.AuthResult()
	}
	return out
}
