package inbound

import (
	"context"
	"net/netip"
	"os/user"
	"strconv"
	"strings"
	"time"

	"postern/internal/envelope"
	"postern/internal/policy"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

// A checker is a policy stage (rate limits, DNSBL, HELO checks, SPF,
// DKIM, DMARC, milters, signing...). It implements any of the Check*
// interfaces below; inbound calls them in the order the checkers were
// given, stopping at the first verdict that refuses. Checkers are shared
// by every session and must be safe for concurrent use.

// ConnectChecker runs when a client connects, before the greeting.
type ConnectChecker interface {
	CheckConnect(ctx context.Context, c *Conn) *Verdict
}

// HeloChecker runs at HELO and EHLO.
type HeloChecker interface {
	CheckHelo(ctx context.Context, c *Conn) *Verdict
}

// AuthChecker runs before credentials are verified (ok is false and
// verified is false: e.g. refuse a locked-out client) and after (verified
// is true, ok tells the outcome: count failures).
type AuthChecker interface {
	CheckAuth(ctx context.Context, c *Conn, user string, verified, ok bool) *Verdict
}

// MailChecker runs at MAIL FROM, after the syntax was accepted.
type MailChecker interface {
	CheckMail(ctx context.Context, t *Txn) *Verdict
}

// RcptChecker runs at each RCPT TO after the relay decision accepted it.
type RcptChecker interface {
	CheckRcpt(ctx context.Context, t *Txn, to smtp.Path, rcpt *envelope.Recipient) *Verdict
}

// SpamCheck is implemented by checkers that judge the client's
// reputation (DNS block lists, reverse DNS, greylisting): their refusals
// give way when the relay decision says so (an access-map OK entry for
// the client or the recipient, sendmail's "accept even if other checks
// would refuse"; at connect, the client's entry). They still run and see
// every recipient.
type SpamCheck interface {
	SpamCheck()
}

// DataChecker runs once the whole message is in; it may add headers
// (t.AddHeader), replace the content (m.Replace), change t.Env.Rcpts, or
// decide the message's fate.
type DataChecker interface {
	CheckData(ctx context.Context, t *Txn, m *Message) *Verdict
}

// CloseObserver is told when a connection ends (to release counters).
type CloseObserver interface {
	Closed(c *Conn)
}

// RejectObserver is told of every refusal sent to a client, whoever made
// it (a checker, the relay policy, the message checks): for metrics.
type RejectObserver interface {
	Rejected(ctx context.Context, c *Conn, stage string, v *Verdict)
}

// AcceptObserver is told of every message once it is safely queued.
type AcceptObserver interface {
	Accepted(ctx context.Context, t *Txn)
}

// Action is what happens to an accepted message.
type Action int

const (
	// Deliver is the normal case.
	Deliver Action = iota
	// Junk delivers into the recipient's Junk folder.
	Junk
	// Hold keeps the message in the queue until an admin releases it.
	Hold
	// Discard accepts the message and drops it (sendmail's DISCARD).
	Discard
)

// Verdict is a checker's decision. A nil *Verdict means "go on".
type Verdict struct {
	Reply *smtp.Reply // refuse with this reply (4xx or 5xx)
	// Action applies when Reply is nil (DATA stage only); the strongest
	// action of all checkers wins (Discard > Hold > Junk > Deliver).
	Action     Action
	Rule       string // why, in words, for the log and `postern explain`
	Disconnect bool   // close the connection after the reply
}

// Conn is what is known about the client of one connection.
type Conn struct {
	ID         string
	Remote     netip.AddrPort
	Local      netip.AddrPort
	Listener   string
	Mode       smtpd.Mode
	Helo       string // HELO/EHLO argument
	EHLO       bool
	TLS        string // "TLSv1.3 TLS_AES_128_GCM_SHA256", or ""
	AuthUser   string // authenticated user, or ""; the LocalUser for local submission
	AuthMech   string // SASL mechanism AuthUser authenticated with ("PLAIN", "LOGIN"), or ""
	ClientName string // forward-confirmed reverse DNS name, or "" (set by a checker)
	// ClientTLS is the session's TLS for the access map (TLS_Clt:,
	// CertIssuer:); zero in plaintext.
	ClientTLS policy.ClientTLS
	// PeerUID and LocalUser name the local user of a local submission
	// (smtpd.ModeLocal, a unix socket): the uid the kernel reports and its
	// login name ("uid1234" without a passwd entry). PeerUID is -1 and
	// LocalUser "" for network clients. A local user counts as
	// authenticated: AuthUser is set to LocalUser.
	PeerUID   int
	LocalUser string
	// GreetPause, set by a connect checker, holds the greeting back that
	// long; a client that talks meanwhile is refused as an early talker
	// (EarlyTalkerReply, or 554 5.5.0 when nil).
	GreetPause       time.Duration
	EarlyTalkerReply *smtp.Reply

	// Values lets checkers keep per-connection state (by a key of their
	// own type). Sessions are single-goroutine: no locking needed.
	Values map[any]any
}

// IP is the client's address; invalid for local submission.
func (c *Conn) IP() netip.Addr { return c.Remote.Addr() }

// Client names the client for logs: its address, or "local:" and the
// user for a local submission.
func (c *Conn) Client() string {
	if c.LocalUser != "" {
		return "local:" + c.LocalUser
	}
	return c.IP().String()
}

// LoginName is the login name of uid as local submission names it: the
// passwd entry's name, or "uid" and the number when there is none.
func LoginName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid" + strconv.Itoa(uid)
}

// Txn is the mail transaction under way.
type Txn struct {
	Conn *Conn
	Env  *envelope.Envelope
	From smtp.Path
	// Params are the ESMTP parameters of MAIL FROM.
	Params smtp.Params
	// Values holds per-transaction results of checkers (SPF result for
	// DMARC, ...), by a key of the checker's own type.
	Values map[any]any

	headers []string
	action  Action
	rules   []string
}

// AddHeader adds a header field above the message (below our Received).
// value may hold folded lines separated by "\r\n\t".
func (t *Txn) AddHeader(name, value string) {
	t.headers = append(t.headers, name+": "+value+"\r\n")
}

// Headers returns the fields added so far, in order.
func (t *Txn) Headers() []string { return t.headers }

// Action returns the fate decided so far.
func (t *Txn) Action() Action { return t.action }

func (t *Txn) apply(v *Verdict) {
	if v.Action > t.action {
		t.action = v.Action
	}
	if v.Rule != "" {
		t.rules = append(t.rules, v.Rule)
	}
}

// checkers holds the checkers sorted by the stages they take part in.
type checkers struct {
	connect []ConnectChecker
	helo    []HeloChecker
	auth    []AuthChecker
	mail    []MailChecker
	rcpt    []RcptChecker
	data    []DataChecker
	close   []CloseObserver
	reject  []RejectObserver
	accept  []AcceptObserver
}

func sortCheckers(list []any) checkers {
	var c checkers
	for _, x := range list {
		if v, ok := x.(ConnectChecker); ok {
			c.connect = append(c.connect, v)
		}
		if v, ok := x.(HeloChecker); ok {
			c.helo = append(c.helo, v)
		}
		if v, ok := x.(AuthChecker); ok {
			c.auth = append(c.auth, v)
		}
		if v, ok := x.(MailChecker); ok {
			c.mail = append(c.mail, v)
		}
		if v, ok := x.(RcptChecker); ok {
			c.rcpt = append(c.rcpt, v)
		}
		if v, ok := x.(DataChecker); ok {
			c.data = append(c.data, v)
		}
		if v, ok := x.(CloseObserver); ok {
			c.close = append(c.close, v)
		}
		if v, ok := x.(RejectObserver); ok {
			c.reject = append(c.reject, v)
		}
		if v, ok := x.(AcceptObserver); ok {
			c.accept = append(c.accept, v)
		}
	}
	return c
}

// refusal returns the verdict if it refuses, else nil.
func refusal(v *Verdict) *Verdict {
	if v != nil && v.Reply != nil {
		return v
	}
	return nil
}

func (a Action) String() string {
	switch a {
	case Junk:
		return "junk"
	case Hold:
		return "hold"
	case Discard:
		return "discard"
	}
	return "deliver"
}

// joinRules is for logs.
func joinRules(r []string) string { return strings.Join(r, "; ") }
