package inbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"postern/internal/envelope"
	"postern/internal/policy"
	"postern/internal/smtp"
	"postern/internal/smtpd"
	"postern/internal/tlsutil"
)

// session is one SMTP connection's view of inbound.
type session struct {
	b    *Backend
	info smtpd.ConnInfo
	log  *slog.Logger

	helo     string
	ehlo     bool
	tls      string // description of the TLS in use, "" for none
	authUser string
	env      *envelope.Envelope // the transaction under way, or nil
	classes  []policy.Class     // per accepted recipient
}

func (s *session) Hello(ctx context.Context, name string, extended bool) *smtp.Reply {
	s.helo, s.ehlo = name, extended
	return nil
}

func (s *session) TLS(cs tls.ConnectionState) {
	s.tls = tlsutil.Describe(cs)
	s.authUser = ""
}

func (s *session) Auth(ctx context.Context, user, password string) *smtp.Reply {
	if s.b.opts.Auth == nil || !s.b.opts.Auth.Verify(user, password) {
		// Never log the password; the user name is logged to spot attacks.
		s.log.WarnContext(ctx, "auth failed", "client", s.info.Remote.Addr().String(), "user", user)
		return &smtp.Reply{Code: 535, Enhanced: "5.7.8", Text: "authentication credentials invalid"}
	}
	s.authUser = user
	s.log.InfoContext(ctx, "auth", "client", s.info.Remote.Addr().String(), "user", user)
	return nil
}

func (s *session) Mail(ctx context.Context, from smtp.Path, p smtp.Params) *smtp.Reply {
	s.env = &envelope.Envelope{
		From:     from.String(),
		ClientIP: s.info.Remote.Addr(),
		Helo:     s.helo,
		AuthUser: s.authUser,
		TLS:      s.tls,
		Listener: s.info.Listener,
		SMTPUTF8: p.SMTPUTF8,
		Body:     p.Body,
		DSNRet:   p.Ret,
		EnvID:    p.EnvID,
	}
	s.classes = s.classes[:0]
	return nil
}

func (s *session) Rcpt(ctx context.Context, to smtp.Path, p smtp.Params) *smtp.Reply {
	d := s.b.opts.Relay.Rcpt(s.info.Remote.Addr(), s.authUser, to)
	if !d.Accepted() {
		s.log.InfoContext(ctx, "reject", "stage", "rcpt", "client", s.info.Remote.Addr().String(),
			"from", s.env.From, "to", to.String(), "code", d.Reply.Code, "rule", d.Rule)
		return d.Reply
	}
	orcpt := p.ORCPT
	if orcpt == "" && d.Mailbox != to.String() {
		orcpt = "rfc822;" + to.String()
	}
	s.env.Rcpts = append(s.env.Rcpts, envelope.Recipient{Addr: d.Mailbox, ORCPT: orcpt, Notify: p.Notify})
	s.classes = append(s.classes, d.Class)
	return nil
}

func (s *session) Data(ctx context.Context, r io.Reader) *smtp.Reply {
	env := s.env
	s.env = nil
	if env == nil || len(env.Rcpts) == 0 {
		return &smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "no transaction"}
	}
	now := s.b.opts.Now()
	env.Received = now
	w, err := s.b.opts.Spool.Create(env)
	if err != nil {
		s.log.ErrorContext(ctx, "spool create failed", "err", err)
		return smtp.ReplyTempFailure
	}
	hdr := receivedHeader(s.b.opts.Hostname, env, s.ehlo, now)
	hops := &hopCounter{}
	_, err = w.Write(hdr)
	if err == nil {
		_, err = copyCounting(w, r, hops)
	}
	if err != nil {
		w.Abort()
		var rep *smtp.Reply
		if errors.As(err, &rep) {
			s.log.InfoContext(ctx, "reject", "stage", "data", "client", env.ClientIP.String(), "from", env.From, "code", rep.Code, "why", rep.Text)
			return rep
		}
		s.log.InfoContext(ctx, "data aborted", "client", env.ClientIP.String(), "err", err)
		return smtp.ReplyTempFailure.With(err)
	}
	if hops.n >= s.b.opts.MaxHops {
		w.Abort()
		s.log.InfoContext(ctx, "reject", "stage", "data", "client", env.ClientIP.String(), "from", env.From, "why", "mail loop", "hops", hops.n)
		// RFC 5321 6.3: a message with too many Received headers loops.
		return &smtp.Reply{Code: 554, Enhanced: "5.4.6", Text: "too many hops, mail loop suspected"}
	}
	if err := w.Commit(ctx); err != nil {
		s.log.ErrorContext(ctx, "spool commit failed", "err", err)
		return smtp.ReplyTempFailure
	}
	s.log.InfoContext(ctx, "accepted", "msg", env.ID, "client", env.ClientIP.String(), "from", env.From,
		"rcpts", len(env.Rcpts), "size", env.Size, "tls", env.TLS != "", "auth", env.AuthUser)
	return &smtp.Reply{Code: 250, Enhanced: "2.0.0", Text: fmt.Sprintf("OK: queued as %s", env.ID)}
}

func (s *session) Reset() {
	s.env = nil
}

func (s *session) Close() {
	s.log.Debug("disconnect", "client", s.info.Remote.Addr().String())
}
