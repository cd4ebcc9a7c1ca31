package dsn

import (
	"context"
	"strings"
	"sync"
)

// Handoff is how one delivered recipient left this host. The zero value
// means delivered here (a mailbox, a program, an LMTP server): the
// reporting is ours.
type Handoff struct {
	// RemoteMTA is the host name of the SMTP server that took the
	// message for the recipient; "" when it was not relayed.
	RemoteMTA string
	// Reply is that server's reply to the end of the content, such as
	// "250 2.0.0 Ok: queued as 4XyZ".
	Reply string
	// DSN is set when the server offered DSN and so received the DSN
	// request (NOTIFY, ORCPT, RET, ENVID) with the message.
	DSN bool
}

// Relayed reports whether the recipient went to a next hop that did not
// take the DSN request: RFC 3461 5.2.2 then has the relaying MTA issue a
// "relayed" notice when NOTIFY asked for SUCCESS.
func (h Handoff) Relayed() bool { return h.RemoteMTA != "" && !h.DSN }

// Passed reports whether the DSN request went on to the next hop, which
// reports from now on: RFC 3461 5.2.1, no notice from this host.
func (h Handoff) Passed() bool { return h.RemoteMTA != "" && h.DSN }

// RelayedRecipient is the recipient line of a "relayed" notice for rc
// handed off as h: RFC 3464 2.3.3 Action relayed, a 2.X.X status (RFC
// 3464 2.3.4: success class), Remote-MTA and the next hop's reply.
func RelayedRecipient(rc Recipient, h Handoff) Recipient {
	rc.Action = ActionRelayed
	rc.RemoteMTA = h.RemoteMTA
	if rc.Status == "" || rc.Status[0] != '2' {
		rc.Status = "2.0.0"
	}
	if h.Reply != "" {
		// RFC 3464 2.3.6: diagnostic-type smtp, the reply as received.
		rc.Diagnostic = "smtp; " + h.Reply
	}
	return rc
}

// Per-recipient actions other than a report's own (RFC 3464 2.3.3).
const (
	// ActionRelayed: passed to a server that does not report success.
	ActionRelayed = "relayed"
	// ActionExpanded: delivered to an alias or list that forwarded it to
	// several addresses.
	ActionExpanded = "expanded"
)

// Handoffs collects the handoffs of one delivery attempt by recipient
// address: the queue puts it into the context of the attempt
// (WithHandoffs), remote delivery records into it, whatever couriers
// lie in between. The zero value is ready; safe for concurrent use.
type Handoffs struct {
	mu sync.Mutex
	m  map[string]Handoff
}

// Record notes that addr was delivered as h.
func (hs *Handoffs) Record(addr string, h Handoff) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.m == nil {
		hs.m = map[string]Handoff{}
	}
	hs.m[strings.ToLower(addr)] = h
}

// Lookup returns how addr was delivered; the zero Handoff (delivered
// here) when nothing was recorded.
func (hs *Handoffs) Lookup(addr string) Handoff {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.m[strings.ToLower(addr)]
}

type handoffsKey struct{}

// WithHandoffs returns ctx carrying hs, for delivery to record into.
func WithHandoffs(ctx context.Context, hs *Handoffs) context.Context {
	return context.WithValue(ctx, handoffsKey{}, hs)
}

// RecordHandoff records h for addr in the Handoffs of ctx, if any.
func RecordHandoff(ctx context.Context, addr string, h Handoff) {
	if hs, ok := ctx.Value(handoffsKey{}).(*Handoffs); ok && hs != nil {
		hs.Record(addr, h)
	}
}
