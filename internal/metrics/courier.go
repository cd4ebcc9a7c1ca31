package metrics

import (
	"context"
	"errors"
	"io"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// Courier is the spool's view of delivery (spool.Courier), repeated here
// so that metrics can wrap one without importing the spool.
type Courier interface {
	Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error
}

// ObservedCourier counts the results of the courier it wraps.
type ObservedCourier struct {
	Next Courier
	M    *Metrics
	Now  func() time.Time // nil means time.Now
}

// Deliver implements spool.Courier: it delivers through Next and counts
// each recipient as delivered, deferred or bounced.
func (o *ObservedCourier) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	start := now()
	errs := o.Next.Deliver(ctx, env, rcpts, body)
	end := now()
	o.M.Attempt(end.Sub(start))
	for i := range rcpts {
		var err error
		if i < len(errs) {
			err = errs[i]
		}
		o.M.Delivered(Result(err), end.Sub(env.Received))
	}
	return errs
}

// Result names a delivery result as the spool reads it: nil is
// "delivered", a 5xx reply "bounced", a destination that could not take
// the recipient yet (pacing: a result with a RetryAt method) "paced",
// anything else "deferred".
func Result(err error) string {
	if err == nil {
		return "delivered"
	}
	var r *smtp.Reply
	if errors.As(err, &r) && r.Permanent() {
		return "bounced"
	}
	var p interface{ RetryAt() time.Time }
	if errors.As(err, &p) {
		return "paced"
	}
	return "deferred"
}
