package main

import (
	"postern/internal/config"
	"postern/internal/submit"
)

// localStages builds the rule on the envelope senders of local users
// ([local] sender_check, trusted_users). It only looks at local
// submissions, so it may sit anywhere in the stages; it runs first so
// that a refused sender is not counted by the limits.
func localStages(d *deps) ([]any, error) {
	l := d.cfg.Local
	if l.Socket == "" {
		return nil, nil
	}
	return []any{&submit.SenderCheck{
		Hostname: d.cfg.Hostname,
		IsLocal:  d.relay.IsLocal,
		Trusted:  submit.TrustedUIDs(l.TrustedUsers, d.log),
		Warn:     l.SenderCheck == config.SenderWarn,
		Log:      d.log,
	}}, nil
}
