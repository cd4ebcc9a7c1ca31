package milter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	gomilter "github.com/emersion/go-milter"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// message sends the header, the body and the end of the message to one
// milter, then applies its changes. A nil verdict means go on.
func (c *Checker) message(ctx context.Context, st *mstate, t *inbound.Txn, m *inbound.Message) (*inbound.Verdict, error) {
	fields, bodyStart, err := splitHeader(m.Reader())
	if err != nil {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	var mods []gomilter.ModifyAction
	a, err := call(ctx, st, func(s *gomilter.ClientSession) (*gomilter.Action, error) {
		lead := s.ProtocolOption(gomilter.OptHeaderLeadingSpace)
		for _, f := range fields {
			a, err := s.HeaderField(f.name, f.value(lead))
			if err != nil || a.Code != gomilter.ActContinue {
				return a, err
			}
		}
		a, err := s.HeaderEnd()
		if err != nil || a.Code != gomilter.ActContinue {
			return a, err
		}
		body := io.NewSectionReader(m, bodyStart, m.Size()-bodyStart)
		buf := make([]byte, gomilter.MaxBodyChunk)
		for {
			n, rerr := io.ReadFull(body, buf)
			if n > 0 {
				a, err := s.BodyChunk(buf[:n])
				if err != nil {
					return nil, err
				}
				if a.Code != gomilter.ActContinue {
					return a, nil
				}
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return nil, fmt.Errorf("reading the message: %w", rerr)
			}
		}
		if err := s.Macros(gomilter.CodeEOB, eomMacros(t, m.Get("Message-Id"))...); err != nil {
			return nil, err
		}
		st.l.tc.endTimeout(st.f.Timeouts.End)
		defer st.l.tc.endTimeout(0)
		mods, a, err = s.End()
		return a, err
	})
	if err != nil {
		return nil, err
	}
	// Any answer but continue ends the message for the milter.
	st.txnOpen = false
	out, v, err := decide(st, stageData, a)
	if err != nil {
		return nil, err
	}
	switch out {
	case refused, discarded:
		return v, nil
	case accepted:
		st.skip = true
	}
	if mods == nil {
		return nil, nil
	}
	// RFC-less but universal: changes count only when the message is
	// accepted (continue or accept at the end of the message).
	return c.apply(ctx, st, t, m, fields, bodyStart, mods)
}

// apply carries out a milter's changes: header and body changes rewrite
// the message, recipient and sender changes the envelope, quarantine
// holds the message in the queue.
func (c *Checker) apply(ctx context.Context, st *mstate, t *inbound.Txn, m *inbound.Message,
	fields []field, bodyStart int64, mods []gomilter.ModifyAction) (*inbound.Verdict, error) {
	allowed := offeredActions & st.l.s.ActionOpts
	// The changes go to copies first: a bad change fails the milter with
	// none of its changes applied.
	e := &edits{milter: st.f.Name, fields: fields, env: *t.Env, from: t.From}
	e.env.Rcpts = append([]envelope.Recipient(nil), t.Env.Rcpts...)
	for _, mod := range mods {
		rule := changeRules[mod.Code]
		if allowed&rule.need == 0 {
			return nil, fmt.Errorf("change %q without negotiating it", mod.Code)
		}
		if err := rule.do(e, mod); err != nil {
			return nil, err
		}
	}
	if e.rewrite {
		if err := e.rewriteMessage(m, bodyStart); err != nil {
			return nil, err
		}
	}
	t.Env.Rcpts, t.Env.From, t.From = e.env.Rcpts, e.env.From, e.from
	if len(e.changes) > 0 {
		c.log.InfoContext(ctx, "milter changes", "conn", t.Conn.ID, "msg", t.Env.ID, "milter", st.f.Name,
			"changes", strings.Join(e.changes, ", "))
	}
	return e.verdict, nil
}

// edits are one milter's changes made so far, on copies of the header
// fields and the envelope.
type edits struct {
	milter   string // its name, for the quarantine rule
	fields   []field
	env      envelope.Envelope
	from     smtp.Path
	rewrite  bool   // the message must be rewritten: fields or body changed
	replaced bool   // the body is replaced by body
	body     []byte // the new body as the milter sent it
	verdict  *inbound.Verdict
	changes  []string // for the log
}

// changeRule is the negotiated action a change requires and how it is
// made.
type changeRule struct {
	need gomilter.OptAction
	do   func(e *edits, mod gomilter.ModifyAction) error
}

// changeRules are the changes a milter may make; any other is refused
// as not negotiated.
var changeRules = map[gomilter.ModifyActCode]changeRule{
	gomilter.ActAddHeader:    {gomilter.OptAddHeader, (*edits).addHeader},
	gomilter.ActInsertHeader: {gomilter.OptAddHeader, (*edits).insertHeader},
	gomilter.ActChangeHeader: {gomilter.OptChangeHeader, (*edits).changeHeader},
	gomilter.ActReplBody:     {gomilter.OptChangeBody, (*edits).replaceBody},
	gomilter.ActAddRcpt:      {gomilter.OptAddRcpt, (*edits).addRcpt},
	gomilter.ActDelRcpt:      {gomilter.OptRemoveRcpt, (*edits).delRcpt},
	gomilter.ActChangeFrom:   {gomilter.OptChangeFrom, (*edits).changeFrom},
	gomilter.ActQuarantine:   {gomilter.OptQuarantine, (*edits).quarantine},
}

func (e *edits) addHeader(mod gomilter.ModifyAction) error {
	f, err := newField(mod.HeaderName, mod.HeaderValue)
	if err != nil {
		return err
	}
	e.fields = append(e.fields, f)
	e.rewrite = true
	e.changes = append(e.changes, "add header "+mod.HeaderName)
	return nil
}

func (e *edits) insertHeader(mod gomilter.ModifyAction) error {
	fields, err := insertField(e.fields, mod.HeaderIndex, mod.HeaderName, mod.HeaderValue)
	if err != nil {
		return err
	}
	e.fields, e.rewrite = fields, true
	e.changes = append(e.changes, "insert header "+mod.HeaderName)
	return nil
}

func (e *edits) changeHeader(mod gomilter.ModifyAction) error {
	fields, err := changeField(e.fields, mod.HeaderIndex, mod.HeaderName, mod.HeaderValue)
	if err != nil {
		return err
	}
	e.fields, e.rewrite = fields, true
	e.changes = append(e.changes, "change header "+mod.HeaderName)
	return nil
}

// replaceBody takes one chunk of the new body; a body sent in several
// chunks is one change.
func (e *edits) replaceBody(mod gomilter.ModifyAction) error {
	e.body = append(e.body, mod.Body...)
	if !e.replaced {
		e.changes = append(e.changes, "replace body")
	}
	e.replaced, e.rewrite = true, true
	return nil
}

func (e *edits) addRcpt(mod gomilter.ModifyAction) error {
	p, err := milterPath(mod.Rcpt, false)
	if err != nil {
		return err
	}
	addRcpt(&e.env, p.String())
	e.changes = append(e.changes, "add recipient "+p.String())
	return nil
}

func (e *edits) delRcpt(mod gomilter.ModifyAction) error {
	p, err := milterPath(mod.Rcpt, false)
	if err != nil {
		return err
	}
	delRcpt(&e.env, p.String())
	e.changes = append(e.changes, "delete recipient "+p.String())
	return nil
}

func (e *edits) changeFrom(mod gomilter.ModifyAction) error {
	p, err := milterPath(mod.From, true)
	if err != nil {
		return err
	}
	e.from, e.env.From = p, p.String()
	e.changes = append(e.changes, "change sender to <"+p.String()+">")
	return nil
}

// quarantine holds the message in the queue, with the milter's reason.
func (e *edits) quarantine(mod gomilter.ModifyAction) error {
	reason := strings.TrimSpace(mod.Reason)
	e.verdict = &inbound.Verdict{Action: inbound.Hold, Rule: fmt.Sprintf("milter %s: quarantine: %s", e.milter, reason)}
	e.changes = append(e.changes, "quarantine")
	return nil
}

// rewriteMessage replaces the content of m with the edited header fields
// and the new body, or the body of m (from bodyStart) if not replaced.
func (e *edits) rewriteMessage(m *inbound.Message, bodyStart int64) error {
	var hdr bytes.Buffer
	for _, f := range e.fields {
		hdr.WriteString(f.raw)
	}
	hdr.WriteString("\r\n")
	var b io.Reader = io.NewSectionReader(m, bodyStart, m.Size()-bodyStart)
	if e.replaced {
		b = bytes.NewReader(crlfBody(e.body))
	}
	if err := m.Replace(io.MultiReader(&hdr, b)); err != nil {
		return fmt.Errorf("rewriting the message: %w", err)
	}
	return nil
}

// milterPath parses an address a milter gives, with or without angle
// brackets, as strictly as the same address in MAIL or RCPT.
func milterPath(s string, sender bool) (smtp.Path, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "<") {
		s = "<" + s + ">"
	}
	opt := smtp.ParseOptions{SMTPUTF8: true}
	var p smtp.Path
	var r *smtp.Reply
	if sender {
		p, _, r = smtp.ParseMail("FROM:"+s+smtpUTF8Param(s), opt)
	} else {
		p, _, r = smtp.ParseRcpt("TO:"+s, opt)
	}
	if r != nil {
		return smtp.Path{}, fmt.Errorf("bad address %q from milter: %w", s, r)
	}
	return p, nil
}

// smtpUTF8Param lets a non-ASCII sender through ParseMail, which allows
// UTF-8 only with the SMTPUTF8 parameter.
func smtpUTF8Param(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return " SMTPUTF8"
		}
	}
	return ""
}

// addRcpt adds a recipient unless it is there already.
func addRcpt(env *envelope.Envelope, addr string) {
	for _, r := range env.Rcpts {
		if strings.EqualFold(r.Addr, addr) {
			return
		}
	}
	env.Rcpts = append(env.Rcpts, envelope.Recipient{Addr: addr})
}

// delRcpt removes a recipient, known by its mailbox or by the address the
// client gave (which the milter saw).
func delRcpt(env *envelope.Envelope, addr string) {
	out := env.Rcpts[:0]
	for _, r := range env.Rcpts {
		if strings.EqualFold(r.Addr, addr) || strings.EqualFold(r.ORCPT, "rfc822;"+addr) {
			continue
		}
		out = append(out, r)
	}
	env.Rcpts = out
}
