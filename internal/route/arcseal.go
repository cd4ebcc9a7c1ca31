package route

import (
	"context"
	"errors"
	"io"

	"postern/internal/arc"
	"postern/internal/envelope"
	"postern/internal/smtp"
)

// Sealer adds our ARC set (RFC 8617) to mail that leaves because a
// local address forwarded it (arc.Sealer).
type Sealer interface {
	Seal(ctx context.Context, msg io.Reader) (string, error)
}

// seal returns the envelope and content the forwarded recipients get:
// with our ARC set on top when the message may be sealed, as it is when
// it may not (the chain it came with ended in cv=fail, or is full).
// Any other failure (no usable key) keeps the message in the queue: it
// does not leave unsealed when sealing is on.
func (c *Courier) seal(ctx context.Context, env *envelope.Envelope, body io.ReaderAt) (*envelope.Envelope, io.ReaderAt, error) {
	set, err := c.ARC.Seal(ctx, io.NewSectionReader(body, 0, env.Size))
	if errors.Is(err, arc.ErrNotSealed) {
		c.log().InfoContext(ctx, "arc: forwarded mail leaves without our seal", "id", env.ID, "why", err)
		return env, body, nil
	}
	if err != nil {
		// RFC 3463 X.7.5: the key needed is not available.
		return nil, nil, &smtp.Reply{Code: 451, Enhanced: "4.7.5", Text: "cannot ARC-seal forwarded mail now", Err: err}
	}
	cp := *env
	cp.Size += int64(len(set))
	c.log().InfoContext(ctx, "arc: forwarded mail sealed", "id", env.ID)
	return &cp, prefixed{head: set, body: body}, nil
}

// prefixed is body with head before it, read in place.
type prefixed struct {
	head string
	body io.ReaderAt
}

func (p prefixed) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(p.head)) {
		n = copy(b, p.head[off:])
		if n == len(b) {
			return n, nil
		}
	}
	m, err := p.body.ReadAt(b[n:], max(0, off-int64(len(p.head))))
	return n + m, err
}
