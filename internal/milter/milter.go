// Package milter is postern's milter client: it hands each SMTP stage to
// the configured mail filters (opendkim, rspamd, SpamAssassin's
// spamass-milter...) over the sendmail milter protocol, through
// github.com/emersion/go-milter, and turns their answers into verdicts and
// message changes.
//
// Milters run in the order configured. At each stage the first milter that
// refuses stops the chain; a milter that accepts is not asked again for
// the rest of the message (or, when it accepts at connect or HELO, for the
// rest of the connection). At the end of DATA each milter sees the message
// as the milters before it left it, so that a signing milter placed last
// signs the final content.
package milter

import (
	"log/slog"
	"sync/atomic"

	"postern/internal/milter/spec"
)

// Filter is one milter, as an INPUT_MAIL_FILTER line describes it.
type Filter struct {
	Name      string         // for logs and rules
	Socket    spec.Socket    // where it listens
	OnFailure spec.OnFailure // when it cannot be reached or misbehaves
	Timeouts  spec.Timeouts  // zero fields take spec.DefaultTimeouts
	// Listeners limits the milter to these listeners (by name); empty
	// means every listener.
	Listeners []string
}

// Options configure a Checker.
type Options struct {
	Filters  []Filter
	Hostname string // our name: the {j} macro
	Log      *slog.Logger
}

// Checker implements the inbound Check* stages by asking the milters. It
// is safe for concurrent use: per-connection state lives in the
// connection's Values.
type Checker struct {
	filters  []*filter
	hostname string
	log      *slog.Logger
}

// filter is a Filter with what the Checker learnt about it.
type filter struct {
	Filter
	// v2 is set once the milter answered negotiation with protocol
	// version 2 (go-milter's own server does): later sessions offer only
	// what version 2 knows, saving a refused negotiation.
	v2 atomic.Bool
}

// New returns a Checker for the filters, in order.
func New(opts Options) *Checker {
	c := &Checker{hostname: opts.Hostname, log: opts.Log}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	for _, f := range opts.Filters {
		t := &f.Timeouts
		d := spec.DefaultTimeouts
		if t.Connect <= 0 {
			t.Connect = d.Connect
		}
		if t.Send <= 0 {
			t.Send = d.Send
		}
		if t.Read <= 0 {
			t.Read = d.Read
		}
		if t.End <= 0 {
			t.End = d.End
		}
		if f.Name == "" {
			f.Name = f.Socket.String()
		}
		c.filters = append(c.filters, &filter{Filter: f})
	}
	return c
}

// applies reports whether the filter runs on the named listener.
func (f *filter) applies(listener string) bool {
	if len(f.Listeners) == 0 {
		return true
	}
	for _, l := range f.Listeners {
		if l == listener {
			return true
		}
	}
	return false
}
