package dsn

import (
	"context"
	"fmt"
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
	// Targets is how many addresses an alias or .forward file sent the
	// recipient on to (RecordExpansion); 0 when it was not expanded.
	Targets int
	// Forwarded is set when an alias to one address queued a copy for
	// that address with the DSN request unchanged (RFC 3461 5.2.7.2): the
	// copy's delivery reports, not this one.
	Forwarded bool
}

// Expanded reports whether the recipient was an alias (or .forward
// file) that sent the message on to several addresses. RFC 3461
// 5.2.7.3: such an alias gets an "expanded" notice when NOTIFY asked for
// SUCCESS; RFC 3461 5.2.7.2: an alias to exactly one address is a
// rewrite, not an expansion, and reports as that address would.
func (h Handoff) Expanded() bool { return h.Targets >= 2 }

// Relayed reports whether the recipient went to a next hop that did not
// take the DSN request: RFC 3461 5.2.2 then has the relaying MTA issue a
// "relayed" notice when NOTIFY asked for SUCCESS.
func (h Handoff) Relayed() bool { return h.RemoteMTA != "" && !h.DSN }

// Passed reports whether the DSN request went on to the next hop, which
// reports from now on: RFC 3461 5.2.1, no notice from this host. It also
// went on when a one-to-one alias forwarded the message with it (RFC
// 3461 5.2.7.2): the forwarded copy reports.
func (h Handoff) Passed() bool { return h.RemoteMTA != "" && h.DSN || h.Forwarded && !h.Expanded() }

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

// ExpandedRecipient is the recipient line of an "expanded" notice for
// rc: RFC 3464 2.3.3 Action expanded (delivered to the address given,
// then sent on to several others; not a final state), a 2.X.X status.
func ExpandedRecipient(rc Recipient, targets int) Recipient {
	rc.Action = ActionExpanded
	rc.RemoteMTA = ""
	if rc.Status == "" || rc.Status[0] != '2' {
		rc.Status = "2.0.0"
	}
	rc.Diagnostic = fmt.Sprintf("smtp; 250 2.0.0 alias expanded to %d addresses", targets)
	return rc
}

// WithoutSuccess is the NOTIFY for the addresses an alias expands into:
// RFC 3461 5.2.7.3, the alias's NOTIFY with SUCCESS removed (the
// "expanded" notice answered it); NEVER when nothing is left. An empty
// NOTIFY (none given) stays empty.
func WithoutSuccess(notify string) string {
	if notify == "" {
		return ""
	}
	var keep []string
	for _, w := range strings.Split(notify, ",") {
		w = strings.ToUpper(strings.TrimSpace(w))
		if w != "" && w != "SUCCESS" {
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		return "NEVER"
	}
	return strings.Join(keep, ",")
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
	k := strings.ToLower(addr)
	if h.Targets == 0 {
		h.Targets = hs.m[k].Targets
	}
	hs.m[k] = h
}

// RecordExpansion notes that addr was an alias (or .forward file) that
// sent the message on to targets addresses, keeping any handoff recorded
// for it.
func (hs *Handoffs) RecordExpansion(addr string, targets int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.m == nil {
		hs.m = map[string]Handoff{}
	}
	k := strings.ToLower(addr)
	h := hs.m[k]
	h.Targets = targets
	hs.m[k] = h
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

// RecordExpansion records in the Handoffs of ctx, if any, that addr was
// expanded into targets addresses by an alias or .forward file.
func RecordExpansion(ctx context.Context, addr string, targets int) {
	if hs, ok := ctx.Value(handoffsKey{}).(*Handoffs); ok && hs != nil {
		hs.RecordExpansion(addr, targets)
	}
}
