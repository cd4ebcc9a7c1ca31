package route

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/textproto"
	"strings"
	"time"

	"postern/internal/deliver"
	"postern/internal/dsn"
	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/smtp"
)

// Inner is the courier that delivers final addresses (the spool's Courier
// interface, declared here as route uses it).
type Inner interface {
	Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error
}

// Courier expands the aliases (and, when enabled, the .forward files) of
// local recipients at delivery time, as sendmail does, and hands the
// results on: local mailboxes to Inner, other addresses as one new
// message into the queue (Forwarder), "/file" targets to an mbox file and
// "|command" targets to deliver.Pipe, each only when allowed. Recipients
// in other domains, and local ones without an alias or .forward, go to
// Inner unchanged.
type Courier struct {
	Inner Inner
	// Maps returns the maps in force (the aliases); nil: none.
	Maps func() *maps.Maps
	// IsLocal says which domains are delivered here.
	IsLocal func(domain string) bool
	// Users, when set, says which local addresses have a mailbox: an
	// alias target without one bounces instead of creating a mailbox
	// nobody reads. One that also has UnavailableText (a users table
	// not read past its stale period) defers such targets while it says
	// why.
	Users interface{ Exists(addr string) bool }
	// AllowFiles and AllowCommands enable "/file" and "|command" targets;
	// off, such targets bounce with a permanent error.
	AllowFiles, AllowCommands bool
	// Forward reads .forward files; nil means none are read.
	Forward *ForwardFiles
	// Forwarder puts forwarded copies into the queue.
	Forwarder *Forwarder
	// SRS, when set, rewrites the envelope sender of forwarded mail
	// that leaves for another domain (srs.go); nil: plain forwarding.
	SRS *SRS
	// ARC, when set, seals the forwarded mail that leaves for another
	// domain (arcseal.go); nil: not sealed.
	ARC Sealer
	// Done, when set, records the /file and |command targets served for
	// a message, so that a retry of the message (another target of the
	// same recipient failed for now) does not write or run them again.
	Done *Marks
	// Postmaster is where a "postmaster" target goes (RFC 5321 4.5.1:
	// postmaster always exists); "" delivers it like any name.
	Postmaster string
	// PipeTimeout bounds one command; 0 means deliver.Pipe's default.
	PipeTimeout time.Duration
	Log         *slog.Logger
}

func (c *Courier) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// RFC 3463 3.5: X.4.6 routing loop detected.
var replyLoop = &smtp.Reply{Code: 554, Enhanced: "5.4.6", Text: "mail forwarding loop detected"}

// RFC 3463 3.4: X.3.0, a problem of the mail system: a map from a
// directory could not be read.
var replyMapsDown = &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "a map needed for routing cannot be read; will retry"}

// Deliver implements the spool's Courier interface.
func (c *Courier) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	if c.Maps != nil {
		// Aliases, mailertable, local-host-names and the access map's TLS
		// rules decide where and how mail goes: without one, it waits.
		if down := c.Maps().UnavailableText(); down != "" {
			for i := range errs {
				errs[i] = replyMapsDown.With(fmt.Errorf("maps unavailable: %s", down))
			}
			return errs
		}
	}
	var pass []int
	var delivered map[string]bool // Delivered-To header values, read once
	for i, r := range rcpts {
		targets, how, list, ok := c.expand(r.Addr)
		if !ok {
			pass = append(pass, i)
			continue
		}
		if delivered == nil {
			delivered = deliveredTo(body, env.Size)
		}
		if delivered[strings.ToLower(r.Addr)] {
			// The message went through this address before: a forward
			// came back (a .forward or alias pointing at each other across hosts).
			errs[i] = replyLoop.With(fmt.Errorf("%s: Delivered-To: %s already in the message", how, r.Addr))
			continue
		}
		errs[i] = c.deliverTargets(ctx, env, r, how, list, targets, body)
	}
	fwd, rest, fenv := c.srsSplit(ctx, env, rcpts, pass)
	fbody := body
	if len(fwd) > 0 && c.ARC != nil {
		var err error
		if fenv, fbody, err = c.seal(ctx, fenv, body); err != nil {
			for _, i := range fwd {
				errs[i] = err
			}
			fwd = nil
		}
	}
	c.deliverInner(ctx, fenv, rcpts, fwd, fbody, errs)
	c.deliverInner(ctx, env, rcpts, rest, body, errs)
	return errs
}

// deliverInner hands the recipients rcpts[i], i in idx, to Inner with
// env, and puts the results into errs.
func (c *Courier) deliverInner(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, idx []int, body io.ReaderAt, errs []error) {
	if len(idx) == 0 {
		return
	}
	sub := make([]envelope.Recipient, len(idx))
	for j, i := range idx {
		sub[j] = rcpts[i]
	}
	res := c.Inner.Deliver(ctx, env, sub, body)
	for j, i := range idx {
		if j < len(res) {
			errs[i] = res[j]
		}
	}
}

// split gives the local part (lower case) and domain of a local address,
// ok false for other domains and quoted local parts.
func (c *Courier) split(addr string) (local, domain string, ok bool) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || strings.HasPrefix(addr, `"`) {
		return "", "", false
	}
	local, domain = strings.ToLower(addr[:at]), strings.ToLower(addr[at+1:])
	if c.IsLocal == nil || !c.IsLocal(domain) {
		return "", "", false
	}
	return local, domain, true
}

// expand returns the targets of a local recipient with an alias (local
// part, then without its +detail) or a .forward file; ok is false when it
// has neither and goes to Inner as it is. list is set for an alias with
// an owner-NAME alias: a mailing list, in RFC 3461 5.2.7.1's sense.
func (c *Courier) expand(addr string) (targets []maps.Target, how string, list, ok bool) {
	local, domain, isLocal := c.split(addr)
	if !isLocal {
		return nil, "", false, false
	}
	var al *maps.Aliases
	if c.Maps != nil {
		if m := c.Maps(); m != nil {
			al = m.Aliases
		}
	}
	names := []string{local}
	if user, _, plus := strings.Cut(local, "+"); plus && user != "" {
		names = append(names, user)
	}
	for _, n := range names {
		if _, found := al.Lookup(n); found {
			x := al.Expand(n, maps.ExpandOptions{AllowFiles: c.AllowFiles, AllowCommands: c.AllowCommands, IsLocal: c.IsLocal})
			_, owned := al.Lookup("owner-" + n)
			return x.Targets, "alias " + n, owned, true
		}
	}
	if c.Forward != nil {
		if ts, path, found := c.Forward.Read(names[len(names)-1]); found {
			return ts, ".forward " + path, false, true
		}
	}
	_ = domain
	return nil, "", false, false
}

// expansion counts the addresses (mailboxes, forwards, files, programs)
// that targets send the message on to; failed targets do not count.
func expansion(targets []maps.Target) int {
	n := 0
	for _, t := range targets {
		if t.Kind != maps.TargetError {
			n++
		}
	}
	return n
}

// outcome gathers the results of one recipient's targets.
type outcome struct {
	ok        int
	temp      error
	permanent error
}

func (o *outcome) add(err error) {
	switch {
	case err == nil:
		o.ok++
	case isPermanent(err):
		if o.permanent == nil {
			o.permanent = err
		}
	default:
		if o.temp == nil {
			o.temp = err
		}
	}
}

func isPermanent(err error) bool {
	var r *smtp.Reply
	return errors.As(err, &r) && r.Code >= 500
}

// deliverTargets delivers one recipient's expansion. The recipient counts
// as delivered when every target was taken or failed for good and at
// least one was taken (the others are logged); it is retried when one
// failed temporarily (targets already done are not done twice: local
// copies are found by name, forwards by their marker); it bounces when
// every target failed for good.
//
// The DSN request goes on with the targets: RFC 3461 5.2.7.2, an alias
// to one address passes NOTIFY and ORCPT on unchanged; RFC 3461 5.2.7.3,
// one that expands into several passes ORCPT on and NOTIFY without
// SUCCESS, and the alias itself gets the one "expanded" notice (recorded
// with dsn.RecordExpansion for the queue). RFC 3461 5.2.7.1: a mailing
// list (an alias with an owner-NAME) is a final delivery, reported as
// "delivered"; copies it sends out under its owner's address carry
// nothing of the original request.
func (c *Courier) deliverTargets(ctx context.Context, env *envelope.Envelope, r envelope.Recipient, how string, list bool, targets []maps.Target, body io.ReaderAt) error {
	_, domain, _ := c.split(r.Addr)
	n := expansion(targets)
	expanded := !list && n >= 2
	tr := &targetRun{env: env, r: r, how: how, domain: domain, body: body, forwards: map[string][]string{},
		sub: envelope.Recipient{Addr: r.Addr, ORCPT: orcptOf(r), Notify: r.Notify}}
	if expanded {
		tr.sub.Notify = dsn.WithoutSuccess(r.Notify)
	}
	for _, t := range targets {
		c.target(ctx, tr, t)
	}
	c.deliverLocal(ctx, tr)
	kept := c.deliverForwards(ctx, tr)
	o := tr.o
	switch {
	case o.temp != nil:
		return o.temp
	case o.ok > 0:
		if o.permanent != nil {
			c.log().WarnContext(ctx, "some alias targets failed", "id", env.ID, "rcpt", r.Addr, "via", how, "err", o.permanent)
		}
		c.log().InfoContext(ctx, "expanded", "id", env.ID, "rcpt", r.Addr, "via", how, "targets", len(targets))
		switch {
		case expanded:
			dsn.RecordExpansion(ctx, r.Addr, n)
		case !list && n == 1 && kept:
			// RFC 3461 5.2.7.2: the one copy took NOTIFY and ORCPT
			// along; it reports, this recipient does not.
			dsn.RecordHandoff(ctx, r.Addr, dsn.Handoff{Forwarded: true})
		}
		return nil
	case o.permanent != nil:
		return o.permanent
	}
	// An alias whose every target was a duplicate of another: nothing to do.
	return nil
}

// targetRun is the delivery of one recipient's expansion: what it is,
// and what its targets come to so far.
type targetRun struct {
	env    *envelope.Envelope
	r      envelope.Recipient
	how    string // "alias NAME" or ".forward PATH"
	domain string // the recipient's (local) domain
	sub    envelope.Recipient
	body   io.ReaderAt

	o        outcome
	local    []envelope.Recipient
	forwards map[string][]string // by envelope sender
}

// target sorts one target: a failure is counted, a mailbox goes to
// local, an address elsewhere to forwards; a file or command is served
// at once.
func (c *Courier) target(ctx context.Context, tr *targetRun, t maps.Target) {
	switch t.Kind {
	case maps.TargetError:
		tr.o.add(c.aliasError(ctx, tr, t))
	case maps.TargetLocal:
		c.localTarget(ctx, tr, t)
	case maps.TargetAddress:
		if _, _, isLocal := c.split(t.Value); isLocal {
			tr.local = append(tr.local, envelope.Recipient{Addr: t.Value, ORCPT: tr.sub.ORCPT, Notify: tr.sub.Notify})
			return
		}
		from := tr.env.From
		if t.Owner != "" && tr.env.From != "" {
			// Errors for a list go to its owner-NAME alias.
			from = t.Owner + "@" + tr.domain
		}
		tr.forwards[from] = append(tr.forwards[from], t.Value)
	case maps.TargetFile:
		tr.o.add(c.once(ctx, tr.env, tr.r, t, tr.body, c.file))
	case maps.TargetCommand:
		tr.o.add(c.once(ctx, tr.env, tr.r, t, tr.body, c.command))
	}
}

// aliasError is the reply for a target the expansion could not make.
func (c *Courier) aliasError(ctx context.Context, tr *targetRun, t maps.Target) error {
	code, enh := 550, "5.1.1"
	if errors.Is(t.Err, maps.ErrAliasLoop) || errors.Is(t.Err, maps.ErrAliasDepth) {
		// RFC 3463 3.5: X.4.6 routing loop detected.
		code, enh = 554, "5.4.6"
	}
	if errors.Is(t.Err, maps.ErrTargetNotAllowed) {
		code, enh = 550, "5.7.1"
	}
	if t.Temporary {
		code, enh = 451, "4.3.0"
	}
	c.log().WarnContext(ctx, "alias target failed", "id", tr.env.ID, "rcpt", tr.r.Addr, "via", tr.how, "err", t.Err)
	return &smtp.Reply{Code: code, Enhanced: enh, Text: "alias expansion failed", Err: fmt.Errorf("%s: %w", tr.how, t.Err)}
}

// localTarget is a local name: the postmaster setting for
// "postmaster", else a mailbox of the recipient's domain, which must
// exist.
func (c *Courier) localTarget(ctx context.Context, tr *targetRun, t maps.Target) {
	addr := t.Value + "@" + tr.domain
	if t.Value == "postmaster" && c.Postmaster != "" && !strings.EqualFold(c.Postmaster, addr) {
		// Not an alias itself: the postmaster setting.
		if _, _, isLocal := c.split(c.Postmaster); !isLocal {
			tr.forwards[tr.env.From] = append(tr.forwards[tr.env.From], c.Postmaster)
			return
		}
		addr = c.Postmaster
	} else if u, ok := c.Users.(interface{ UnavailableText() string }); ok && u.UnavailableText() != "" {
		tr.o.add(&smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "the users cannot be read; will retry",
			Err: fmt.Errorf("%s: whether %s has a mailbox: %s", tr.how, addr, u.UnavailableText())})
		return
	} else if c.Users != nil && !c.Users.Exists(addr) {
		err := &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "alias target has no mailbox",
			Err: fmt.Errorf("%s: %s (%s) has no mailbox", tr.how, addr, t.Source.Human())}
		c.log().WarnContext(ctx, "alias target failed", "id", tr.env.ID, "rcpt", tr.r.Addr, "via", tr.how, "err", err.Err)
		tr.o.add(err)
		return
	}
	tr.local = append(tr.local, envelope.Recipient{Addr: addr, ORCPT: tr.sub.ORCPT, Notify: tr.sub.Notify})
}

// deliverLocal hands the local targets to Inner.
func (c *Courier) deliverLocal(ctx context.Context, tr *targetRun) {
	if len(tr.local) == 0 {
		return
	}
	// A retry may find copies made by an earlier attempt.
	res := c.Inner.Deliver(envelope.WithRedelivery(ctx), tr.env, tr.local, tr.body)
	for i, err := range res {
		if err != nil {
			c.log().WarnContext(ctx, "alias target failed", "id", tr.env.ID, "rcpt", tr.r.Addr, "target", tr.local[i].Addr, "via", tr.how, "err", err)
		}
		tr.o.add(err)
	}
}

// deliverForwards queues the forwarded copies, one per envelope sender;
// kept reports whether a copy went on with the DSN request.
func (c *Courier) deliverForwards(ctx context.Context, tr *targetRun) (kept bool) {
	for from, addrs := range tr.forwards {
		if c.Forwarder == nil {
			tr.o.add(&smtp.Reply{Code: 451, Enhanced: "4.3.5", Text: "forwarding not configured", Err: errors.New("no forwarder")})
			continue
		}
		err := c.Forwarder.Forward(ctx, tr.env, tr.sub, from, addrs, tr.body)
		if err == nil && from == tr.env.From {
			kept = true
		}
		tr.o.add(err)
	}
	return kept
}

func orcptOf(r envelope.Recipient) string {
	if r.ORCPT != "" {
		return r.ORCPT
	}
	return "rfc822;" + r.Addr
}

// file appends the message to an mbox file target.
func (c *Courier) file(ctx context.Context, env *envelope.Envelope, r envelope.Recipient, t maps.Target, body io.ReaderAt) error {
	if !c.AllowFiles {
		return &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "delivery to files not allowed", Err: fmt.Errorf("file %s (%s)", t.Value, t.Source.Human())}
	}
	hdr := "Return-Path: <" + env.From + ">\r\nDelivered-To: " + r.Addr + "\r\n"
	content := io.MultiReader(strings.NewReader(hdr), io.NewSectionReader(body, 0, env.Size))
	if err := deliver.Mbox(t.Value, env.From, env.Received, content); err != nil {
		return &smtp.Reply{Code: 451, Enhanced: "4.2.0", Text: "delivery to file failed, will try again", Err: err}
	}
	c.log().InfoContext(ctx, "sent", "id", env.ID, "rcpt", r.Addr, "file", t.Value)
	return nil
}

// once serves a /file or |command target with serve, unless an earlier
// attempt at the message already did, and marks it served.
func (c *Courier) once(ctx context.Context, env *envelope.Envelope, r envelope.Recipient, t maps.Target, body io.ReaderAt,
	serve func(context.Context, *envelope.Envelope, envelope.Recipient, maps.Target, io.ReaderAt) error) error {
	key := []string{"target", strings.ToLower(r.Addr), t.Value}
	if c.Done != nil && c.Done.Has(env.ID, key...) {
		c.log().InfoContext(ctx, "alias target already served by an earlier attempt", "id", env.ID, "rcpt", r.Addr, "target", t.Value)
		return nil
	}
	if err := serve(ctx, env, r, t, body); err != nil {
		return err
	}
	if c.Done != nil {
		if err := c.Done.Add(env.ID, key...); err != nil {
			c.log().WarnContext(ctx, "alias target mark not written; a retry may serve it again", "id", env.ID, "target", t.Value, "err", err)
		}
	}
	return nil
}

// command pipes the message to a program: the command line is split on
// blanks, with no shell.
func (c *Courier) command(ctx context.Context, env *envelope.Envelope, r envelope.Recipient, t maps.Target, body io.ReaderAt) error {
	if !c.AllowCommands {
		return &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "delivery to programs not allowed", Err: fmt.Errorf("command %q (%s)", t.Value, t.Source.Human())}
	}
	f := strings.Fields(t.Value)
	if len(f) == 0 {
		return &smtp.Reply{Code: 554, Enhanced: "5.3.5", Text: "delivery command misconfigured", Err: errors.New("empty command")}
	}
	p := &deliver.Pipe{Command: f[0], Args: f[1:], Timeout: c.PipeTimeout, Log: c.Log}
	return p.Deliver(ctx, env, []envelope.Recipient{r}, body)[0]
}

// maxTraceBytes bounds how much of the header is searched for
// Delivered-To.
const maxTraceBytes = 256 << 10

// deliveredTo returns the addresses of the message's Delivered-To header
// fields, lower case.
func deliveredTo(body io.ReaderAt, size int64) map[string]bool {
	out := map[string]bool{}
	r := textproto.NewReader(bufio.NewReader(io.NewSectionReader(body, 0, min(size, maxTraceBytes))))
	h, _ := r.ReadMIMEHeader()
	for _, v := range h.Values("Delivered-To") {
		out[strings.ToLower(strings.TrimSpace(v))] = true
	}
	return out
}
