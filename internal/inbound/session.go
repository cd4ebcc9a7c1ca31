package inbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"postern/internal/envelope"
	"postern/internal/policy"
	"postern/internal/smtp"
	"postern/internal/smtpd"
	"postern/internal/tlsutil"
)

// session is one SMTP connection's view of inbound.
type session struct {
	b    *Backend
	conn *Conn
	log  *slog.Logger
	txn  *Txn // the transaction under way, or nil
	// hangup is set by a verdict that ends the connection.
	hangup bool
	// features are what smtpd offers this client (Srv_Features:).
	features smtpd.Features
}

// Hangup implements smtpd.Hanger.
func (s *session) Hangup() bool { return s.hangup }

func (s *session) logReject(ctx context.Context, stage string, v *Verdict, args ...any) {
	if v.Disconnect {
		s.hangup = true
	}
	args = append([]any{"stage", stage, "client", s.conn.Client(), "code", v.Reply.Code, "rule", v.Rule}, args...)
	s.log.InfoContext(ctx, "reject", args...)
	for _, o := range s.b.checks.reject {
		o.Rejected(ctx, s.conn, stage, v)
	}
}

func (s *session) Hello(ctx context.Context, name string, extended bool) *smtp.Reply {
	s.conn.Helo, s.conn.EHLO = name, extended
	for _, ch := range s.b.checks.helo {
		if v := refusal(ch.CheckHelo(ctx, s.conn)); v != nil {
			s.logReject(ctx, "helo", v, "helo", name)
			return v.Reply
		}
	}
	return nil
}

func (s *session) TLS(cs tls.ConnectionState) {
	s.conn.TLS = tlsutil.Describe(cs)
	s.conn.AuthUser, s.conn.AuthMech = "", ""
	s.clientTLS(context.Background(), cs)
}

func (s *session) Auth(ctx context.Context, user, password string) *smtp.Reply {
	for _, ch := range s.b.checks.auth {
		if v := refusal(ch.CheckAuth(ctx, s.conn, user, false, false)); v != nil {
			s.logReject(ctx, "auth", v, "user", user)
			return v.Reply
		}
	}
	if u, isU := s.b.opts.Auth.(Unavailable); isU {
		if down := u.UnavailableText(); down != "" {
			s.log.ErrorContext(ctx, "auth deferred: the users cannot be read", "client", s.conn.Client(), "user", user, "why", down)
			return &smtp.Reply{Code: 454, Enhanced: "4.7.0", Text: "the users cannot be read now; try again later"}
		}
	}
	ok := s.b.opts.Auth != nil && s.b.opts.Auth.Verify(user, password)
	for _, ch := range s.b.checks.auth {
		if v := refusal(ch.CheckAuth(ctx, s.conn, user, true, ok)); v != nil {
			s.logReject(ctx, "auth", v, "user", user)
			return v.Reply
		}
	}
	if !ok {
		// Never log the password; the user name is logged to spot attacks.
		s.log.WarnContext(ctx, "auth failed", "client", s.conn.Client(), "user", user)
		return &smtp.Reply{Code: 535, Enhanced: "5.7.8", Text: "authentication credentials invalid"}
	}
	s.conn.AuthUser, s.conn.AuthMech = user, smtpd.AuthMechanism(ctx)
	s.log.InfoContext(ctx, "auth", "client", s.conn.Client(), "user", user)
	return nil
}

func (s *session) Mail(ctx context.Context, from smtp.Path, p smtp.Params) *smtp.Reply {
	if rep := s.checkClientTLS(ctx); rep != nil {
		return rep
	}
	c := s.conn
	t := &Txn{
		Conn: c, From: from, Params: p, Values: map[any]any{},
		Env: &envelope.Envelope{
			From:       from.String(),
			ClientIP:   c.IP(),
			ClientName: c.ClientName,
			Helo:       c.Helo,
			AuthUser:   c.AuthUser,
			TLS:        c.TLS,
			Listener:   c.Listener,
			SMTPUTF8:   p.SMTPUTF8,
			RequireTLS: p.RequireTLS,
			Body:       p.Body,
			DSNRet:     p.Ret,
			EnvID:      p.EnvID,
		},
	}
	for _, ch := range s.b.checks.mail {
		if v := refusal(ch.CheckMail(ctx, t)); v != nil {
			s.logReject(ctx, "mail", v, "from", t.Env.From)
			return v.Reply
		}
	}
	s.txn = t
	return nil
}

func (s *session) Rcpt(ctx context.Context, to smtp.Path, p smtp.Params) *smtp.Reply {
	t := s.txn
	d := s.b.opts.Relay.Decide(policy.Query{Client: s.conn.IP(), ClientName: s.conn.ClientName,
		AuthUser: s.conn.AuthUser, From: t.From, HasFrom: true, To: to, TLS: s.conn.ClientTLS})
	if !d.Accepted() {
		s.logReject(ctx, "rcpt", &Verdict{Reply: d.Reply, Rule: d.Rule}, "from", t.Env.From, "to", to.String())
		return d.Reply
	}
	orcpt := p.ORCPT
	if orcpt == "" && d.Mailbox != to.String() {
		orcpt = "rfc822;" + to.String()
	}
	// A local address sent on elsewhere (virtusertable, luser_relay, an
	// SRS bounce): forwarded mail, which leaves with an SRS sender.
	r := envelope.Recipient{Addr: d.Mailbox, ORCPT: orcpt, Notify: p.Notify, Forwarded: d.Class == policy.Forward}
	for _, ch := range s.b.checks.rcpt {
		v := refusal(ch.CheckRcpt(ctx, t, to, &r))
		if _, spam := ch.(SpamCheck); v != nil && spam && d.SkipChecks {
			// An access-map OK entry: accept even if this check would refuse.
			s.log.InfoContext(ctx, "refusal overridden", "client", s.conn.Client(), "to", to.String(), "rule", v.Rule, "by", d.Rule)
			continue
		}
		if v != nil {
			s.logReject(ctx, "rcpt", v, "from", t.Env.From, "to", to.String())
			return v.Reply
		}
	}
	t.Env.Rcpts = append(t.Env.Rcpts, r)
	return nil
}

func (s *session) Data(ctx context.Context, r io.Reader) *smtp.Reply {
	t := s.txn
	s.txn = nil
	if t == nil || len(t.Env.Rcpts) == 0 {
		return &smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "no transaction"}
	}
	env := t.Env
	buf := s.b.bufs.Get().([]byte)
	m := newMessage(s.b.opts.TmpDir, buf)
	defer func() {
		m.close()
		if cap(m.mem) <= 4*memLimit {
			s.b.bufs.Put(m.mem[:0])
		}
	}()
	hops := &hopCounter{}
	cb := s.b.copies.Get().(*[]byte)
	_, err := copyCounting(m, r, hops, *cb)
	s.b.copies.Put(cb)
	if err != nil {
		var rep *smtp.Reply
		if errors.As(err, &rep) {
			s.logReject(ctx, "data", &Verdict{Reply: rep, Rule: rep.Text}, "from", env.From)
			return rep
		}
		s.log.InfoContext(ctx, "data aborted", "client", s.conn.Client(), "err", err)
		return smtp.ReplyTempFailure.With(err)
	}
	if hops.n >= s.b.opts.MaxHops {
		// RFC 5321 6.3: a message with too many Received headers loops.
		v := &Verdict{Reply: &smtp.Reply{Code: 554, Enhanced: "5.4.6", Text: "too many hops, mail loop suspected"},
			Rule: fmt.Sprintf("%d Received headers", hops.n)}
		s.logReject(ctx, "data", v, "from", env.From)
		return v.Reply
	}
	for _, ch := range s.b.checks.data {
		v := ch.CheckData(ctx, t, m)
		if v == nil {
			continue
		}
		if v.Reply != nil {
			s.logReject(ctx, "data", v, "from", env.From)
			return v.Reply
		}
		t.apply(v)
	}
	// RFC 8689 5: the sender may ask that TLS policies not hold the
	// message back; REQUIRETLS wins.
	env.TLSOptional = !env.RequireTLS && strings.EqualFold(strings.TrimSpace(m.Header().Get("TLS-Required")), "No")
	switch t.action {
	case Discard:
		s.log.InfoContext(ctx, "discarded", "client", s.conn.Client(), "from", env.From, "rule", joinRules(t.rules))
		return &smtp.Reply{Code: 250, Enhanced: "2.0.0", Text: "OK"}
	case Hold:
		env.Hold = true
	case Junk:
		env.Folder = "Junk"
	}
	if len(env.Rcpts) == 0 {
		s.log.InfoContext(ctx, "discarded", "client", s.conn.Client(), "from", env.From, "why", "no recipients left")
		return &smtp.Reply{Code: 250, Enhanced: "2.0.0", Text: "OK"}
	}
	return s.enqueue(ctx, t, m)
}

// enqueue writes the message with our headers into the spool and returns
// once it is durable.
func (s *session) enqueue(ctx context.Context, t *Txn, m *Message) *smtp.Reply {
	env := t.Env
	now := s.b.opts.Now()
	env.Received = now
	w, err := s.b.opts.Spool.Create(env)
	if err != nil {
		s.log.ErrorContext(ctx, "spool create failed", "err", err)
		return smtp.ReplyTempFailure
	}
	_, err = w.Write(receivedHeader(s.b.opts.Hostname, env, s.conn.EHLO, now))
	for _, h := range t.headers {
		if err == nil {
			_, err = io.WriteString(w, h)
		}
	}
	if err == nil {
		_, err = io.Copy(w, m.Reader())
	}
	if err == nil {
		err = w.Commit(ctx)
	} else {
		w.Abort()
	}
	if err != nil {
		s.log.ErrorContext(ctx, "spool write failed", "err", err)
		return smtp.ReplyTempFailure
	}
	s.log.InfoContext(ctx, "accepted", "msg", env.ID, "client", s.conn.Client(), "from", env.From,
		"rcpts", len(env.Rcpts), "size", env.Size, "tls", env.TLS != "", "auth", env.AuthUser, "action", t.action.String())
	for _, o := range s.b.checks.accept {
		o.Accepted(ctx, t)
	}
	return &smtp.Reply{Code: 250, Enhanced: "2.0.0", Text: fmt.Sprintf("OK: queued as %s", env.ID)}
}

// GreetPause implements smtpd.GreetPauser.
func (s *session) GreetPause() time.Duration { return s.conn.GreetPause }

// EarlyTalker implements smtpd.GreetPauser.
func (s *session) EarlyTalker() *smtp.Reply {
	r := s.conn.EarlyTalkerReply
	if r == nil {
		r = &smtp.Reply{Code: 554, Enhanced: "5.5.0", Text: "protocol error: talked before the greeting"}
	}
	s.logReject(context.Background(), "connect", &Verdict{Reply: r, Rule: "early talker: spoke before the greeting"})
	return r
}

func (s *session) Reset() {
	s.txn = nil
}

func (s *session) Close() {
	for _, o := range s.b.checks.close {
		o.Closed(s.conn)
	}
	s.log.Debug("disconnect", "client", s.conn.Client())
}
