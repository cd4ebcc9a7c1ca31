package configcheck

import (
	"io"
	"log/slog"

	"postern/internal/config"
	"postern/internal/dkim"
)

// checkARCSeal finds the key that seals forwarded mail ([arc] seal) as
// the server will: without an active RSA key for arc.seal_domain every
// forwarded copy waits in the queue with 451.
func checkARCSeal(cfg *config.Config) Result {
	if !cfg.ARC.Seal {
		return Result{}
	}
	s := dkim.NewSigner(slog.New(slog.NewTextHandler(io.Discard, nil)),
		dkim.SignOptions{Dir: cfg.DKIMDir(), ActivateAfter: cfg.DKIM.ActivateAfter})
	if _, _, err := s.SealKey(cfg.ARC.SealDomain); err != nil {
		return Result{Problems: []string{"arc.seal: " + err.Error() + " (forwarded mail would wait in the queue with 451; run postern dkim keygen -domain " +
			cfg.ARC.SealDomain + " -selector NAME -algo rsa, or set [arc] seal = false)"}}
	}
	return Result{}
}
