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

// needs is the negotiated action each change requires.
var needs = map[gomilter.ModifyActCode]gomilter.OptAction{
	gomilter.ActAddHeader:    gomilter.OptAddHeader,
	gomilter.ActInsertHeader: gomilter.OptAddHeader,
	gomilter.ActChangeHeader: gomilter.OptChangeHeader,
	gomilter.ActReplBody:     gomilter.OptChangeBody,
	gomilter.ActAddRcpt:      gomilter.OptAddRcpt,
	gomilter.ActDelRcpt:      gomilter.OptRemoveRcpt,
	gomilter.ActChangeFrom:   gomilter.OptChangeFrom,
	gomilter.ActQuarantine:   gomilter.OptQuarantine,
}

// apply carries out a milter's changes: header and body changes rewrite
// the message, recipient and sender changes the envelope, quarantine
// holds the message in the queue.
func (c *Checker) apply(ctx context.Context, st *mstate, t *inbound.Txn, m *inbound.Message,
	fields []field, bodyStart int64, mods []gomilter.ModifyAction) (*inbound.Verdict, error) {
	allowed := offeredActions & st.l.s.ActionOpts
	// The changes go to copies first: a bad change fails the milter with
	// none of its changes applied.
	env := *t.Env
	env.Rcpts = append([]envelope.Recipient(nil), t.Env.Rcpts...)
	from := t.From
	var (
		rewrite  bool
		replaced bool
		body     []byte
		verdict  *inbound.Verdict
		changes  []string
		err      error
	)
	for _, mod := range mods {
		if need := needs[mod.Code]; allowed&need == 0 {
			return nil, fmt.Errorf("change %q without negotiating it", mod.Code)
		}
		switch mod.Code {
		case gomilter.ActAddHeader:
			var f field
			if f, err = newField(mod.HeaderName, mod.HeaderValue); err == nil {
				fields = append(fields, f)
			}
			rewrite = true
			changes = append(changes, "add header "+mod.HeaderName)
		case gomilter.ActInsertHeader:
			fields, err = insertField(fields, mod.HeaderIndex, mod.HeaderName, mod.HeaderValue)
			rewrite = true
			changes = append(changes, "insert header "+mod.HeaderName)
		case gomilter.ActChangeHeader:
			fields, err = changeField(fields, mod.HeaderIndex, mod.HeaderName, mod.HeaderValue)
			rewrite = true
			changes = append(changes, "change header "+mod.HeaderName)
		case gomilter.ActReplBody:
			body = append(body, mod.Body...)
			if !replaced {
				changes = append(changes, "replace body")
			}
			replaced, rewrite = true, true
		case gomilter.ActAddRcpt:
			var p smtp.Path
			if p, err = milterPath(mod.Rcpt, false); err == nil {
				addRcpt(&env, p.String())
				changes = append(changes, "add recipient "+p.String())
			}
		case gomilter.ActDelRcpt:
			var p smtp.Path
			if p, err = milterPath(mod.Rcpt, false); err == nil {
				delRcpt(&env, p.String())
				changes = append(changes, "delete recipient "+p.String())
			}
		case gomilter.ActChangeFrom:
			var p smtp.Path
			if p, err = milterPath(mod.From, true); err == nil {
				from, env.From = p, p.String()
				changes = append(changes, "change sender to <"+p.String()+">")
			}
		case gomilter.ActQuarantine:
			reason := strings.TrimSpace(mod.Reason)
			verdict = &inbound.Verdict{Action: inbound.Hold, Rule: fmt.Sprintf("milter %s: quarantine: %s", st.f.Name, reason)}
			changes = append(changes, "quarantine")
		}
		if err != nil {
			return nil, err
		}
	}
	if rewrite {
		var hdr bytes.Buffer
		for _, f := range fields {
			hdr.WriteString(f.raw)
		}
		hdr.WriteString("\r\n")
		var b io.Reader = io.NewSectionReader(m, bodyStart, m.Size()-bodyStart)
		if replaced {
			b = bytes.NewReader(crlfBody(body))
		}
		if err := m.Replace(io.MultiReader(&hdr, b)); err != nil {
			return nil, fmt.Errorf("rewriting the message: %w", err)
		}
	}
	t.Env.Rcpts, t.Env.From, t.From = env.Rcpts, env.From, from
	if len(changes) > 0 {
		c.log.InfoContext(ctx, "milter changes", "conn", t.Conn.ID, "msg", t.Env.ID, "milter", st.f.Name,
			"changes", strings.Join(changes, ", "))
	}
	return verdict, nil
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
