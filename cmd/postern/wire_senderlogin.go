package main

import (
	"log/slog"

	"postern/internal/config"
	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/submit"
)

// loginStages builds the rule on the senders of logged-in clients
// ([sender_login], the sender-login map). It sits before routing and
// signing, so that it judges what the client sent and nothing is signed
// for an address the login may not use.
func loginStages(d *deps) ([]any, error) {
	lc := newLoginCheck(d.cfg, d.maps, d.relay, d.log)
	if !lc.Envelope && !lc.HeaderFrom {
		return nil, nil
	}
	return []any{lc}, nil
}

// newLoginCheck is the check as serve runs it and explain shows it.
func newLoginCheck(cfg *config.Config, set *maps.Set, relay *policy.Relay, log *slog.Logger) *submit.LoginCheck {
	lc := &submit.LoginCheck{
		IsLocal:    relay.IsLocal,
		Envelope:   cfg.SenderLogin.Envelope == config.LoginRefuse,
		HeaderFrom: cfg.SenderLogin.HeaderFrom == config.LoginRefuse,
		Log:        log,
	}
	if set != nil {
		lc.Maps = set.Maps
	}
	return lc
}
