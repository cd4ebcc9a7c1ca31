// Package explain tells what postern would answer a client, and why: the
// connection, MAIL FROM and each RCPT TO as the relay decision, the
// access map and the sender-login rule judge them, and what delivery
// does with a local alias. The pieces are those the server runs, so the
// answer is the server's.
package explain

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"postern/internal/inbound"
	"postern/internal/maps"
	"postern/internal/policy"
	"postern/internal/smtp"
	"postern/internal/smtpd"
	"postern/internal/submit"
)

// Explainer answers as the server would.
type Explainer struct {
	Relay *policy.Relay
	Login *submit.LoginCheck
	// Maps returns the maps in force (the aliases); nil: none.
	Maps func() *maps.Maps
	// AllowFiles and AllowCommands are delivery's alias settings.
	AllowFiles, AllowCommands bool
	// TLS, when set, tells how mail for a remote domain would leave and
	// the TLS policy with each server, one line each.
	TLS func(ctx context.Context, domain string) []string
	// ForwardSender, when set, says in one line which envelope sender
	// mail forwarded to another domain leaves with (SRS).
	ForwardSender func(from string) string
	Out           io.Writer
}

// Query is the client and transaction to explain.
type Query struct {
	Client     netip.Addr
	ClientName string // the client's verified host name, or ""
	Auth       string // the user the client logged in as, or ""
	From       string // MAIL FROM ("" for the null sender)
	Rcpts      []string
	// TLS is the client's TLS session: a verified certificate's issuer
	// and subject, for the access map's CERTISSUER: entries.
	TLS policy.ClientTLS
}

// Explain prints the answer at each step, each with the rule that gave
// it. It returns 1 when something is refused, else 0.
func (e *Explainer) Explain(ctx context.Context, q Query) int {
	who := "not authenticated"
	if q.Auth != "" {
		who = "authenticated as " + q.Auth
	}
	fmt.Fprintf(e.Out, "client %s (%s)\n", q.Client, who)
	if cv := e.Relay.Connect(q.Client, q.ClientName); cv.Reply != nil {
		fmt.Fprintf(e.Out, "CONNECT: %s\n  rule: %s\n", replyText(cv.Reply), cv.Rule)
		return 1
	} else if cv.Rule != "" {
		fmt.Fprintf(e.Out, "CONNECT: 220 accepted\n  rule: %s\n", cv.Rule)
	}
	from, ok := e.mail(ctx, q.Auth, q.From)
	if !ok {
		return 1
	}
	status := 0
	for _, r := range q.Rcpts {
		if !e.rcpt(ctx, q, from, r) {
			status = 1
		}
	}
	return status
}

// mail prints the answer to MAIL FROM: the address's syntax, the access
// map's From: entries, and whether the login may use it.
func (e *Explainer) mail(ctx context.Context, auth, from string) (smtp.Path, bool) {
	fromPath, _, rep := smtp.ParseMail("FROM:<"+from+">", smtp.ParseOptions{})
	if rep != nil {
		fmt.Fprintf(e.Out, "MAIL FROM:<%s>: %s\n  rule: the address does not parse (%v)\n", from, replyText(rep), rep.Err)
		return fromPath, false
	}
	mv := e.Relay.Mail(fromPath)
	if mv.Reply != nil {
		fmt.Fprintf(e.Out, "MAIL FROM:<%s>: %s\n  rule: %s\n", from, replyText(mv.Reply), mv.Rule)
		return fromPath, false
	}
	if auth != "" {
		t := &inbound.Txn{Conn: &inbound.Conn{AuthUser: auth, Mode: smtpd.ModeSubmission}, From: fromPath}
		if v := e.Login.CheckMail(ctx, t); v != nil && v.Reply != nil {
			fmt.Fprintf(e.Out, "MAIL FROM:<%s>: %s\n  rule: %s\n", from, replyText(v.Reply), v.Rule)
			return fromPath, false
		}
	}
	fmt.Fprintf(e.Out, "MAIL FROM:<%s>: 250 2.1.0 OK\n", from)
	if mv.Rule != "" {
		fmt.Fprintf(e.Out, "  rule: %s\n", mv.Rule)
	} else {
		fmt.Fprintf(e.Out, "  rule: no access-map From: entry; the relay decision does not depend on the sender (except From:... RELAY with allow_sender_relay = true)\n")
	}
	if auth != "" {
		fmt.Fprintf(e.Out, "  sender_login: %s\n", e.senderLoginRule(auth, fromPath))
	}
	return fromPath, true
}

// senderLoginRule says why the login may use the sender.
func (e *Explainer) senderLoginRule(auth string, from smtp.Path) string {
	if !e.Login.Envelope {
		return "not checked ([sender_login] envelope = \"off\")"
	}
	if from.IsNull() {
		return "the null sender has no owner; any login may use it"
	}
	_, rule := e.Login.Owns(auth, from.String())
	return rule
}

// rcpt prints the answer to one RCPT TO, and what delivery does with an
// accepted local alias; it reports whether the recipient is accepted.
func (e *Explainer) rcpt(ctx context.Context, q Query, from smtp.Path, r string) bool {
	arg := r
	if !strings.HasPrefix(arg, "<") {
		arg = "<" + arg + ">"
	}
	to, _, rep := smtp.ParseRcpt("TO:"+arg, smtp.ParseOptions{SMTPUTF8: true})
	if rep != nil {
		fmt.Fprintf(e.Out, "RCPT TO:%s: %s\n  rule: the address does not parse (%v)\n", arg, replyText(rep), rep.Err)
		return false
	}
	d := e.Relay.Decide(policy.Query{Client: q.Client, ClientName: q.ClientName, AuthUser: q.Auth, From: from, HasFrom: true, To: to, TLS: q.TLS})
	if !d.Accepted() {
		fmt.Fprintf(e.Out, "RCPT TO:%s: %s\n  rule: %s\n", arg, replyText(d.Reply), d.Rule)
		return false
	}
	fmt.Fprintf(e.Out, "RCPT TO:%s: 250 2.1.5 OK (%s, delivered to %s)\n  rule: %s\n", arg, d.Class, d.Mailbox, d.Rule)
	forwards := e.aliases(d.Mailbox)
	if e.ForwardSender != nil && (d.Class == policy.Forward || forwards) {
		fmt.Fprintf(e.Out, "  sender: forwarded mail leaves with %s\n", e.ForwardSender(from.String()))
	}
	if fv := e.Relay.RcptFate(to); fv.Rule != "" {
		fmt.Fprintf(e.Out, "  message: %s\n", fv.Rule)
	}
	e.delivery(ctx, d.Mailbox)
	return true
}

// aliases prints what delivery does with a local address that is an
// alias: its expansion, as the delivery would make it now. forwards
// reports whether a target is an address in another domain.
func (e *Explainer) aliases(addr string) (forwards bool) {
	at := strings.LastIndexByte(addr, '@')
	if e.Maps == nil || at <= 0 || !e.Relay.IsLocal(addr[at+1:]) {
		return false
	}
	local := strings.ToLower(addr[:at])
	al := e.Maps().Aliases
	if _, ok := al.Lookup(local); !ok {
		if user, _, plus := strings.Cut(local, "+"); plus {
			local = user
		}
		if _, ok := al.Lookup(local); !ok {
			return false
		}
	}
	x := al.Expand(local, maps.ExpandOptions{AllowFiles: e.AllowFiles, AllowCommands: e.AllowCommands, IsLocal: e.Relay.IsLocal})
	fmt.Fprintf(e.Out, "  delivery: alias %s expands to:\n", local)
	for _, t := range x.Targets {
		if t.Kind == maps.TargetError {
			fmt.Fprintf(e.Out, "    error: %v\n", t.Err)
			continue
		}
		fmt.Fprintf(e.Out, "    %s %s (%s)\n", t.Kind, t.Value, t.Source.Human())
		if t.Kind == maps.TargetAddress {
			if at := strings.LastIndexByte(t.Value, '@'); at > 0 && !e.Relay.IsLocal(strings.ToLower(t.Value[at+1:])) {
				forwards = true
			}
		}
	}
	return forwards
}

// delivery prints how mail for a remote mailbox would leave, with the
// TLS policy of each server and its reason.
func (e *Explainer) delivery(ctx context.Context, mailbox string) {
	at := strings.LastIndexByte(mailbox, '@')
	if e.TLS == nil || at <= 0 || e.Relay.IsLocal(mailbox[at+1:]) {
		return
	}
	for _, l := range e.TLS(ctx, mailbox[at+1:]) {
		fmt.Fprintf(e.Out, "  delivery: %s\n", l)
	}
}

func replyText(r *smtp.Reply) string {
	return strings.TrimRight(string(r.Format(true)), "\r\n")
}
