package route

import (
	"context"

	"postern/internal/dane"
	"postern/internal/deliver"
	"postern/internal/smtp"
)

// replyDANETemp passes over a server whose TLSA records could not be
// looked up: never taken for "no DANE" (RFC 7672 2.2).
var replyDANETemp = &smtp.Reply{Code: 451, Enhanced: "4.7.5", Text: "DANE TLSA lookup for the next-hop server failed, will try again"}

// dane is the DANE decision for a server; ModeNone when DANE is off or
// does not apply.
func (p *TLSPolicies) dane(ctx context.Context, s deliver.Server) (dane.Decision, error) {
	if p.DNSSEC == nil || !s.MXSecure {
		return dane.Decision{Mode: dane.ModeNone}, nil
	}
	port := s.Port
	if port == 0 {
		port = 25
	}
	d, err := dane.Lookup(ctx, p.DNSSEC, s.Name, port, s.MXSecure)
	if err != nil {
		return d, replyDANETemp.With(err)
	}
	return d, nil
}

// daneChoice is the choice for a server with usable TLSA records:
// verified against them, with the TLSA base domain as the TLS server
// name; a name vouched for by DNSSEC.
func daneChoice(d dane.Decision) deliver.TLSChoice {
	return deliver.TLSChoice{
		Policy:     deliver.PolicyVerify,
		Why:        "DANE: " + d.Why,
		Verify:     d.VerifyConnection,
		ServerName: d.BaseDomain,
		NameSecure: true,
	}
}
