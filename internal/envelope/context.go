package envelope

import "context"

// redeliveryKey marks a context (see WithRedelivery).
type redeliveryKey struct{}

// WithRedelivery marks ctx for a delivery attempt of a message that may
// already have been delivered to some of its recipients without the queue
// knowing it (the queue was recovered after a crash or restart). Couriers
// that can detect an earlier copy (Maildir names) then look for one.
func WithRedelivery(ctx context.Context) context.Context {
	return context.WithValue(ctx, redeliveryKey{}, true)
}

// IsRedelivery reports whether ctx was marked by WithRedelivery.
func IsRedelivery(ctx context.Context) bool {
	v, _ := ctx.Value(redeliveryKey{}).(bool)
	return v
}
