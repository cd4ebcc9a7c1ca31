package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"postern/internal/dsn"
	"postern/internal/envelope"
	"postern/internal/smtp"
	"postern/internal/smtpclient"
)

// Replies for failures of the session with a next hop.
var (
	replyConnFailed = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "could not connect to the next-hop server, will try again"}
	// RFC 3463 3.5: X.4.2 bad connection (it broke, or the peer spoke no SMTP).
	replySessionFailed = &smtp.Reply{Code: 451, Enhanced: "4.4.2", Text: "connection with the next-hop server failed, will try again"}
	replyTLSRequired   = &smtp.Reply{Code: 451, Enhanced: "4.7.5", Text: "TLS required with the next-hop server but not available, will try again"}
	// A TLS policy that could not be looked up (MTA-STS, DANE): never
	// taken for "no policy".
	replyTLSPolicyTemp = &smtp.Reply{Code: 451, Enhanced: "4.7.5", Text: "TLS policy of the destination not known, will try again"}
	// RFC 8689 4.2.1: REQUIRETLS needs MX hosts from DNSSEC or MTA-STS.
	replyRequireTLSName = &smtp.Reply{Code: 550, Enhanced: "5.7.30", Text: "REQUIRETLS: the next-hop server's name is not authenticated (no MTA-STS policy lists it, its MX record is not DNSSEC-signed)"}
	replyAuthFailed     = &smtp.Reply{Code: 451, Enhanced: "4.7.0", Text: "authentication with the next-hop server failed, will try again"}
)

// errTLSFallback asks for the same server again without STARTTLS.
var errTLSFallback = errors.New("STARTTLS failed; retrying in plaintext")

// DeliverTo sends the message to rcpts at one destination: its MX hosts
// or its hops, tried in order until one takes the message. A connection
// kept from an earlier message to the same destination is used first.
// Recipients beyond the destination's recipient limit go in further
// transactions, each paced as its own delivery: those the destination
// cannot take now come back as *Busy.
//
// For each delivered recipient, the server that took it and whether it
// took the DSN request go into the dsn.Handoffs of ctx, if any (the queue
// sends "relayed" notices from them).
func (r *Remote) DeliverTo(ctx context.Context, dest Destination, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	r.init()
	errs := make([]error, len(rcpts))
	lim := r.limitsFor(dest)
	scan := newContentScan(body, env.Size)
	for start := 0; start < len(rcpts); start += lim.RecipientLimit {
		end := min(start+lim.RecipientLimit, len(rcpts))
		l, err := r.pace.acquire(ctx, dest.key(), lim)
		if err != nil {
			for i := start; i < len(rcpts); i++ {
				errs[i] = err
			}
			break
		}
		h, why := r.deliverChunk(ctx, dest, env, rcpts[start:end], body, scan, errs[start:end])
		r.pace.release(l, h, why)
	}
	return errs
}

// deliverChunk runs one transaction's worth of DeliverTo, putting the
// results into errs, and says what it learnt about the destination.
func (r *Remote) deliverChunk(ctx context.Context, dest Destination, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt, scan *contentScan, errs []error) (health, string) {
	fill := func(idx []int, err error) {
		for _, i := range idx {
			errs[i] = err
		}
	}
	pending := make([]int, len(rcpts))
	for i := range pending {
		pending[i] = i
	}
	key := cacheKey(dest, env)
	// A cached session first; a stale one (the server closed it while
	// idle) fails before any content and the message goes on as usual.
	if e := r.cache.get(key); e != nil {
		pending = r.send(ctx, key, e.c, e.t, env, rcpts, pending, body, scan, errs)
		if len(pending) == 0 {
			return sessionHealth(errs)
		}
	}
	rules, err := r.domainTLS(ctx, dest)
	if err != nil {
		fill(pending, err)
		return healthNeutral, ""
	}
	targets, err := r.targets(ctx, dest)
	if err != nil {
		fill(pending, err)
		return healthNeutral, ""
	}
	var last error
	down, opened := len(targets) > 0, false
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			last, down = err, false
			break
		}
		c, err := r.open(ctx, env, dest, rules, t, false)
		if errors.Is(err, errTLSFallback) {
			// Like Postfix: under opportunistic TLS, a server whose TLS
			// handshake fails gets the message in plaintext.
			c, err = r.open(ctx, env, dest, rules, t, true)
		}
		if err != nil {
			last = err
			var de *downError
			down = down && errors.As(err, &de)
			if isLoop(err) {
				break
			}
			continue
		}
		opened = true
		pending = r.send(ctx, key, c, t, env, rcpts, pending, body, scan, errs)
		if len(pending) == 0 {
			return sessionHealth(errs)
		}
		last = errs[pending[0]]
	}
	if last == nil {
		last = replyConnFailed.With(errors.New("no server tried"))
	}
	var rep *smtp.Reply
	if !errors.As(last, &rep) {
		last = replySessionFailed.With(last)
	}
	fill(pending, last)
	if opened {
		return sessionHealth(errs)
	}
	if down {
		return healthDown, last.Error()
	}
	return healthNeutral, ""
}

// sessionHealth judges a destination whose server took a session: down
// when a reply was 421 (RFC 5321 3.8: the server is closing the
// transmission channel), else up.
func sessionHealth(errs []error) (health, string) {
	for _, err := range errs {
		var rep *smtp.Reply
		if errors.As(err, &rep) && rep.Code == 421 {
			return healthDown, err.Error()
		}
	}
	return healthUp, ""
}

// downError marks a failure that says the server is not taking mail at
// all: no connection, a broken session or a 4xx before MAIL. When every
// server of a destination fails so, the destination is backed off.
type downError struct{ err error }

func (e *downError) Error() string { return e.err.Error() }
func (e *downError) Unwrap() error { return e.err }

// cacheKey names the sessions a message to dest may share: those of the
// same destination and credentials, and for REQUIRETLS only sessions
// opened for REQUIRETLS.
func cacheKey(dest Destination, env *envelope.Envelope) string {
	key := dest.key()
	if dest.Auth != nil {
		key += "|" + dest.Auth.User
	}
	if env.RequireTLS {
		key += "|requiretls"
	}
	return key
}

func isLoop(err error) bool {
	var rep *smtp.Reply
	return errors.As(err, &rep) && rep.Enhanced == replyLoopsBack.Enhanced
}

// send runs one transaction on c for the pending recipients, records
// their results in errs (and, for those delivered, the handoff in the
// dsn.Handoffs of ctx) and returns those that may be tried at another
// server (the transaction failed as a whole before the content was sent).
// c goes back to the cache or is closed. scan is the delivery's pass over
// the content, made only when a server lacks SMTPUTF8 or 8BITMIME.
func (r *Remote) send(ctx context.Context, key string, c *smtpclient.Client, t target, env *envelope.Envelope, rcpts []envelope.Recipient, pending []int, body io.ReaderAt, scan *contentScan, errs []error) []int {
	from := env.From
	if r.RewriteSender != nil && from != "" {
		from = r.RewriteSender(from)
	}
	msg := &smtpclient.Message{
		From:     from,
		Size:     env.Size,
		Body:     env.Body,
		SMTPUTF8: env.SMTPUTF8,
		Ret:      env.DSNRet,
		EnvID:    env.EnvID,

		RequireTLS: env.RequireTLS,
	}
	for _, i := range pending {
		rc := rcpts[i]
		msg.Rcpts = append(msg.Rcpts, smtpclient.Rcpt{Addr: rc.Addr, Notify: rc.Notify, ORCPT: rc.ORCPT})
	}
	var res smtpclient.Result
	downgraded, err := fitMessage(c.Extensions(), msg, scan)
	if err != nil {
		// Nothing is sent; the connection stays good for other messages.
		res = smtpclient.Result{Rcpts: make([]error, len(msg.Rcpts)), Whole: err}
		for k := range res.Rcpts {
			res.Rcpts[k] = err
		}
	} else {
		res = c.Send(ctx, msg, io.NewSectionReader(body, 0, env.Size))
	}
	if c.Usable() && c.Messages() < r.ConnectionReuse && ctx.Err() == nil {
		r.cache.put(key, c, t)
	} else if c.Usable() {
		c.Quit()
	} else {
		c.Close()
	}
	final := ""
	if res.Final != nil {
		final = strings.TrimSpace(fmt.Sprintf("%d %s %s", res.Final.Code, res.Final.Enhanced, firstLine(res.Final.Text)))
		final = strings.Join(strings.Fields(final), " ")
	}
	var again []int
	var rep *smtp.Reply
	retryElsewhere := res.Whole != nil && !res.DataSent && !(errors.As(res.Whole, &rep) && rep.Permanent())
	delivered := 0
	for k, i := range pending {
		errs[i] = res.Rcpts[k]
		if errs[i] != nil && !errors.As(errs[i], &rep) {
			errs[i] = replySessionFailed.With(fmt.Errorf("%s[%s]:%d: %w", t.name, t.ip, t.port, errs[i]))
		}
		if errs[i] != nil {
			// RFC 3464 2.3.5: a bounce names the server that answered.
			errs[i] = &hopError{err: errs[i], host: t.name}
		}
		if errs[i] == nil {
			delivered++
			// RFC 3461 5.2.1/5.2.2: whether the next hop got the DSN
			// request decides who reports a success from now on.
			dsn.RecordHandoff(ctx, rcpts[i].Addr, dsn.Handoff{RemoteMTA: t.name, Reply: final, DSN: res.DSN})
		}
		if retryElsewhere {
			again = append(again, i)
		}
	}
	if delivered > 0 {
		attrs := []any{"id", env.ID, "relay", t.name, "ip", t.ip.String(), "port", t.port,
			"rcpts", delivered, "tls", c.TLS() != nil, "reply", final}
		if len(downgraded) > 0 {
			// Sent without SMTPUTF8 or BODY=8BITMIME, which it did not need.
			attrs = append(attrs, "downgraded", strings.Join(downgraded, ","))
		}
		r.Log.InfoContext(ctx, "sent", attrs...)
	}
	if res.Whole != nil {
		r.Log.DebugContext(ctx, "transaction failed", "id", env.ID, "relay", t.name, "ip", t.ip.String(), "err", res.Whole, "retry_elsewhere", retryElsewhere)
	}
	return again
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// domainTLS asks the TLS rules about dest once for this attempt.
func (r *Remote) domainTLS(ctx context.Context, dest Destination) (DomainTLS, error) {
	if r.TLS == nil {
		return StaticTLS(PolicyMay), nil
	}
	rules, err := r.TLS.Domain(ctx, dest.Domain, len(dest.Hops) == 0)
	if err != nil {
		var rep *smtp.Reply
		if errors.As(err, &rep) {
			return nil, err
		}
		return nil, replyTLSPolicyTemp.With(fmt.Errorf("%s: %w", dest.key(), err))
	}
	return rules, nil
}

// policy is the TLS policy for server t of dest, and why.
func (r *Remote) policy(ctx context.Context, env *envelope.Envelope, dest Destination, rules DomainTLS, t target) (TLSChoice, error) {
	choice, err := rules.Host(ctx, Server{Name: t.name, IP: t.ip, Port: t.port, MXSecure: t.mxSecure, IgnorePublished: env.TLSOptional})
	if err != nil {
		var rep *smtp.Reply
		if errors.As(err, &rep) {
			return choice, err
		}
		return choice, replyTLSPolicyTemp.With(fmt.Errorf("%s[%s]: %w", t.name, t.ip, err))
	}
	if dest.Auth != nil && choice.Policy.Stricter(PolicyRequired) != choice.Policy {
		// Credentials never travel in plaintext.
		choice.Policy = PolicyRequired
		choice.Why += "; TLS required to send credentials"
	}
	if env.RequireTLS {
		if !choice.NameSecure {
			return choice, replyRequireTLSName.With(fmt.Errorf("%s[%s] (%s)", t.name, t.ip, choice.Why))
		}
		if choice.Policy != PolicyVerify {
			choice.Policy = PolicyVerify
			choice.Why += "; verified TLS for REQUIRETLS"
		}
	}
	return choice, nil
}

// open connects to t and gets the session ready for MAIL: greeting,
// EHLO, STARTTLS per policy, EHLO again, AUTH when dest has credentials.
// With plain set STARTTLS is not tried (the fallback after a failed
// handshake).
func (r *Remote) open(ctx context.Context, env *envelope.Envelope, dest Destination, rules DomainTLS, t target, plain bool) (*smtpclient.Client, error) {
	id := env.ID
	choice, err := r.policy(ctx, env, dest, rules, t)
	if err != nil {
		r.Log.InfoContext(ctx, "next hop passed over by TLS policy", "id", id, "host", t.name, "ip", t.ip.String(), "err", err)
		return nil, err
	}
	dial := r.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: r.ConnectTimeout}
		dial = d.DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, r.ConnectTimeout)
	conn, err := dial(dctx, "tcp", t.addr())
	cancel()
	if err != nil {
		return nil, &downError{replyConnFailed.With(fmt.Errorf("%s[%s]:%d: %w", t.name, t.ip, t.port, err))}
	}
	c := smtpclient.New(conn, smtpclient.Options{CommandTimeout: r.CommandTimeout, DataTimeout: r.DataTimeout})
	fail := func(err error) (*smtpclient.Client, error) {
		c.Quit()
		var rep *smtp.Reply
		if errors.As(err, &rep) {
			if rep.Err == nil {
				rep = rep.With(fmt.Errorf("%s[%s]:%d", t.name, t.ip, t.port))
			}
			return nil, rep
		}
		return nil, replySessionFailed.With(fmt.Errorf("%s[%s]:%d: %w", t.name, t.ip, t.port, err))
	}
	// A server that will not greet or say hello takes no mail now.
	failDown := func(err error) (*smtpclient.Client, error) {
		_, err = fail(err)
		var rep *smtp.Reply
		if errors.As(err, &rep) && rep.Permanent() {
			return nil, err
		}
		return nil, &downError{err}
	}
	if err := c.Greet(ctx); err != nil {
		return failDown(err)
	}
	// A server greeting with our own name is ourselves: mail would loop
	// (Postfix says "mail for ... loops back to myself"). A name without
	// a dot ("localhost") proves nothing: many hosts share it.
	if strings.Contains(r.Hostname, ".") && strings.EqualFold(c.ServerName(), r.Hostname) {
		return fail(replyLoopsBack.With(fmt.Errorf("%s[%s]:%d greets as %s", t.name, t.ip, t.port, r.Hostname)))
	}
	if err := c.Hello(ctx, r.Hostname); err != nil {
		return failDown(err)
	}
	if choice.Policy == PolicyNever {
		r.Log.InfoContext(ctx, "plaintext to next hop by policy", "id", id, "host", t.name, "ip", t.ip.String(), "why", choice.Why)
	}
	if choice.Policy != PolicyNever && !plain {
		if err := r.startTLS(ctx, c, id, t, choice); err != nil {
			if errors.Is(err, errTLSFallback) {
				c.Close()
				return nil, err
			}
			return fail(err)
		}
	}
	if dest.Auth != nil {
		if err := c.Auth(ctx, dest.Auth.User, dest.Auth.Password); err != nil {
			return fail(replyAuthFailed.With(fmt.Errorf("%s[%s]: %w", t.name, t.ip, err)))
		}
	}
	return c, nil
}

// hopError is a delivery error that knows which next-hop server gave it
// (for the Remote-MTA field of a bounce).
type hopError struct {
	err  error
	host string
}

func (e *hopError) Error() string     { return e.err.Error() }
func (e *hopError) Unwrap() error     { return e.err }
func (e *hopError) RemoteMTA() string { return e.host }
