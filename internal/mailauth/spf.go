package mailauth

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"postern/internal/arc"
	"postern/internal/dkim"
	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
	"postern/internal/spf"
)

// spfKey keeps the SPF result of a transaction in Txn.Values.
type spfKey struct{}

// Verifier checks mail from other domains' servers: SPF at MAIL FROM,
// DKIM and DMARC after DATA. It is an inbound MailChecker, RcptChecker
// and DataChecker, safe for concurrent use.
type Verifier struct {
	opt Options
	// readers are the buffered readers DKIM verification reads messages
	// through, kept for reuse (dkim.Verify takes a *bufio.Reader as it
	// is, and reads a header that fits in its buffer in place). A
	// channel rather than a sync.Pool: the pool is emptied at every
	// garbage collection, which comes often under load.
	readers chan *bufio.Reader
	// dkim keeps parsed DKIM keys and buffers for the server's lifetime.
	dkim *dkim.Verifier
	// arc validates ARC chains with the same keys.
	arc *arc.Verifier
}

// readerSize is the buffer of each of Verifier.readers: more than
// almost any message's header section.
const readerSize = 32 << 10

// NewVerifier returns a Verifier.
func NewVerifier(opt Options) *Verifier {
	dv := dkim.NewVerifier(dkim.VerifyOptions{MaxSignatures: opt.DKIMMaxSignatures})
	return &Verifier{opt: opt, readers: make(chan *bufio.Reader, 32), dkim: dv,
		arc: &arc.Verifier{DKIM: dv, Resolver: opt.Resolver}}
}

// reader returns a reader of r from the free list, or a new one.
func (v *Verifier) reader(r io.Reader) *bufio.Reader {
	select {
	case br := <-v.readers:
		br.Reset(r)
		return br
	default:
		return bufio.NewReaderSize(r, readerSize)
	}
}

// release puts br back on the free list, unless the list is full.
func (v *Verifier) release(br *bufio.Reader) {
	br.Reset(nil)
	select {
	case v.readers <- br:
	default:
	}
}

// CheckMail runs SPF for the MAIL FROM identity, or for the HELO
// identity with the null sender (RFC 7208 2.4), and keeps the result for
// RCPT and DMARC.
func (v *Verifier) CheckMail(ctx context.Context, t *inbound.Txn) *inbound.Verdict {
	if v.opt.NoSPF || exempt(t.Conn, v.opt.Trusted) {
		return nil
	}
	r := spf.Check(ctx, v.opt.Resolver, v.opt.Log, t.Conn.IP(), t.Conn.Helo, t.Env.From)
	t.Values[spfKey{}] = &r
	return nil
}

// CheckRcpt refuses an SPF fail when reject_fail is set. Refusing at RCPT
// rather than MAIL is what most SPF policy services do: the log then
// names who the mail was for.
func (v *Verifier) CheckRcpt(ctx context.Context, t *inbound.Txn, to smtp.Path, rcpt *envelope.Recipient) *inbound.Verdict {
	if !v.opt.SPFRejectFail {
		return nil
	}
	r, _ := t.Values[spfKey{}].(*spf.Result)
	if r == nil || r.Result != spf.Fail {
		return nil
	}
	// RFC 7208 8.4: a fail may be rejected; RFC 7372 3.2: 5.7.23 names an SPF failure.
	return &inbound.Verdict{
		Reply: &smtp.Reply{Code: 550, Enhanced: "5.7.23", Text: "SPF check failed: the sender's domain does not allow this client",
			Err: fmt.Errorf("spf fail for %s from %s", r.Sender, r.IP)},
		Rule: fmt.Sprintf("SPF fail: %s does not designate %s (spf.reject_fail)", r.Domain, r.IP),
	}
}
