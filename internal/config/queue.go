package config

import (
	"fmt"
	"time"
)

// Queue is the [queue] table: retry times, the queue lifetime, delay
// notices and the interval of queue runs in deferred mode.
type Queue struct {
	// RetryInitial is the wait before the first retry; each later wait
	// doubles, up to RetryMax.
	RetryInitial time.Duration `toml:"retry_initial"`
	// RetryMax is the longest wait between two attempts.
	RetryMax time.Duration `toml:"retry_max"`
	// Lifetime is how long a message may stay in the queue before it is
	// returned to its sender.
	Lifetime time.Duration `toml:"lifetime"`
	// WarnAfter is when the sender gets one delay notice; "" (0) = none.
	WarnAfter OptionalDuration `toml:"warn_after"`
	// QueueInterval is the time between queue runs in deferred mode.
	QueueInterval time.Duration `toml:"queue_interval"`
}

// Defaults of the [queue] table, as Postfix's: minimal_backoff_time,
// maximal_backoff_time, maximal_queue_lifetime, delay_warning_time and a
// sendmail -q15m queue run.
const (
	DefaultRetryInitial  = 5 * time.Minute
	DefaultRetryMax      = 4 * time.Hour
	DefaultQueueLifetime = 120 * time.Hour
	DefaultWarnAfter     = 4 * time.Hour
	DefaultQueueInterval = 15 * time.Minute
)

// The delivery modes of [delivery] mode.
const (
	// DeliveryBackground delivers each message as soon as it is queued.
	DeliveryBackground = "background"
	// DeliveryDeferred holds mail until a queue run.
	DeliveryDeferred = "deferred"
)

// OptionalDuration is a duration that "" turns off (0).
type OptionalDuration time.Duration

// decodeTOML implements selfDecoder: "" or a positive duration.
func (d *OptionalDuration) decodeTOML(raw any) error {
	s, ok := raw.(string)
	if !ok {
		return fmt.Errorf("must be a duration such as \"4h\" or \"\" for none, not %s", typeName(raw))
	}
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q is not a positive duration such as \"4h\" (or \"\" for none)", s)
	}
	*d = OptionalDuration(v)
	return nil
}

func defaultQueue() Queue {
	return Queue{
		RetryInitial:  DefaultRetryInitial,
		RetryMax:      DefaultRetryMax,
		Lifetime:      DefaultQueueLifetime,
		WarnAfter:     OptionalDuration(DefaultWarnAfter),
		QueueInterval: DefaultQueueInterval,
	}
}

// queue fills the [queue] defaults of keys not given, checks the table
// and [delivery] mode.
func (d *decoder) queue(c *Config) {
	q := &c.Queue
	def := defaultQueue()
	// Durations decode only positive: zero means the key was not given.
	if q.RetryInitial == 0 {
		q.RetryInitial = def.RetryInitial
	}
	if q.RetryMax == 0 {
		q.RetryMax = def.RetryMax
	}
	if q.Lifetime == 0 {
		q.Lifetime = def.Lifetime
	}
	if q.QueueInterval == 0 {
		q.QueueInterval = def.QueueInterval
	}
	if q.WarnAfter == 0 && !d.defined["queue.warn_after"] {
		q.WarnAfter = def.WarnAfter
	}
	if q.RetryMax < q.RetryInitial {
		d.errorf("queue.retry_max", "queue.retry_max %s is shorter than queue.retry_initial %s", q.RetryMax, q.RetryInitial)
	}
	if q.Lifetime < q.RetryInitial {
		d.errorf("queue.lifetime", "queue.lifetime %s is shorter than queue.retry_initial %s: no message would ever be retried", q.Lifetime, q.RetryInitial)
	}
	if w := time.Duration(q.WarnAfter); w > 0 && w >= q.Lifetime {
		d.warnf("queue.warn_after", "queue.warn_after %s is not shorter than queue.lifetime %s: no delay notice is ever sent", w, q.Lifetime)
	}
	if q.RetryInitial < time.Minute {
		d.warnf("queue.retry_initial", "queue.retry_initial %s: retrying this often hammers servers that are down (Postfix waits 5m)", q.RetryInitial)
	}
	switch c.Delivery.Mode {
	case "":
		c.Delivery.Mode = DeliveryBackground
	case DeliveryBackground, DeliveryDeferred:
	default:
		d.errorf("delivery.mode", "delivery.mode must be %q or %q, not %q", DeliveryBackground, DeliveryDeferred, c.Delivery.Mode)
	}
	if d.defined["queue.queue_interval"] && c.Delivery.Mode != DeliveryDeferred {
		d.warnf("queue.queue_interval", "queue.queue_interval is used in deferred mode only (delivery.mode = %q); retries follow the backoff", c.Delivery.Mode)
	}
}
