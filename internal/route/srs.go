package route

import (
	"context"
	"log/slog"
	"strings"

	"postern/internal/envelope"
)

// SRS gives forwarded mail its envelope sender (the Sender Rewriting
// Scheme): a message that leaves for another domain because a local
// address sent it on (Recipient.Forwarded) gets an SRS address of ours
// as its sender, unless the sender is null or in a domain that keeps its
// sender (our own domains and [srs] exclude_domains). The queue keeps
// the original sender, so postern's own bounces go straight to it.
type SRS struct {
	// Forward makes the SRS address of a sender (srs.Rewriter.Forward).
	Forward func(sender string) (string, error)
	// Keep reports whether senders of a domain stay as they are.
	Keep func(domain string) bool
	Log  *slog.Logger
}

// Sender returns the envelope sender for forwarded mail from from: the
// SRS address, or from itself when it stays (the null sender, a domain
// kept, or an address that cannot be rewritten, which is logged).
func (s *SRS) Sender(ctx context.Context, id, from string) string {
	at := strings.LastIndexByte(from, '@')
	if s == nil || from == "" || at < 0 || s.Keep != nil && s.Keep(strings.ToLower(from[at+1:])) {
		return from
	}
	out, err := s.Forward(from)
	if err != nil {
		if s.Log != nil {
			s.Log.WarnContext(ctx, "srs: sender not rewritten; the next hop's SPF check may fail", "id", id, "from", from, "err", err)
		}
		return from
	}
	return out
}

// srsSplit picks, among the recipients that go to Inner unchanged, those
// that were forwarded and leave for another domain; it returns them with
// the envelope to send them with (a copy with the SRS sender), or nil
// when no sender changes and there is no ARC seal to add.
func (c *Courier) srsSplit(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, pass []int) (fwd []int, rest []int, fenv *envelope.Envelope) {
	if c.SRS == nil && c.ARC == nil {
		return nil, pass, nil
	}
	for _, i := range pass {
		_, _, isLocal := c.split(rcpts[i].Addr)
		if rcpts[i].Forwarded && !isLocal {
			fwd = append(fwd, i)
		} else {
			rest = append(rest, i)
		}
	}
	if len(fwd) == 0 {
		return nil, pass, nil
	}
	from := c.SRS.Sender(ctx, env.ID, env.From)
	if from == env.From && c.ARC == nil {
		return nil, pass, nil
	}
	cp := *env
	cp.From = from
	if from == env.From {
		// Split off to be ARC-sealed (arcseal.go).
		return fwd, rest, &cp
	}
	c.log().InfoContext(ctx, "srs: forwarded mail leaves with sender rewritten", "id", env.ID, "from", env.From, "srs", from, "rcpts", len(fwd))
	return fwd, rest, &cp
}
