package limits

import (
	"context"
	"fmt"
	"time"

	"postern/internal/inbound"
	"postern/internal/smtp"
)

// refuse counts a refusal of kind k and makes its verdict.
func (l *Limits) refuse(k Kind, code int, enhanced, text, rule string) *inbound.Verdict {
	l.refusals[k].Add(1)
	return &inbound.Verdict{
		Reply: &smtp.Reply{Code: code, Enhanced: enhanced, Text: text},
		Rule:  "ratelimit " + k.String() + ": " + rule,
	}
}

// backendFailed applies on_backend_error: nil lets the client through,
// otherwise a temporary refusal (421 at connect, 451 later).
func (l *Limits) backendFailed(ctx context.Context, k Kind, code int, err error) *inbound.Verdict {
	if l.o.Guard.Failed(ctx, k.String(), err) {
		return nil
	}
	l.refusals[numKinds].Add(1)
	return &inbound.Verdict{
		Reply: &smtp.Reply{Code: code, Enhanced: "4.3.0", Text: "temporary problem checking limits, try again later", Err: err},
		Rule:  "ratelimit " + k.String() + ": backend unavailable (on_backend_error = fail_closed)",
	}
}

// wait words a duration for a reply: "in 42 seconds", "in 13 minutes".
func wait(d time.Duration) string {
	switch {
	case d <= 0:
		return "later"
	case d < time.Minute:
		return fmt.Sprintf("in %d seconds", int((d+time.Second-1)/time.Second))
	case d < 2*time.Hour:
		return fmt.Sprintf("in %d minutes", int((d+time.Minute-1)/time.Minute))
	}
	return fmt.Sprintf("in %d hours", int((d+time.Hour-1)/time.Hour))
}
