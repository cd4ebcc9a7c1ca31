// Package dsn builds delivery status notifications (RFC 3464): the
// bounces, delay warnings and success reports that the queue sends back
// to a message's sender. It only builds the message; the queue injects it.
package dsn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"postern/internal/envelope"
)

// Kind is what a notification reports.
type Kind int

// The kinds of notification.
const (
	// Failure: recipients failed for good (5xx, or the queue lifetime ran out).
	Failure Kind = iota
	// Delay: recipients are still being retried (sent once, after warn_after).
	Delay
	// Success: recipients were delivered to their mailbox (NOTIFY=SUCCESS).
	Success
)

// Action is the RFC 3464 2.3.3 action of one recipient.
func (k Kind) Action() string {
	switch k {
	case Delay:
		return "delayed"
	case Success:
		return "delivered"
	}
	return "failed"
}

// Wants reports whether a recipient's NOTIFY parameter asks for a
// notification of kind k.
func Wants(notify string, k Kind) bool {
	notify = strings.ToUpper(notify)
	if notify == "" {
		// RFC 3461 4.1: without NOTIFY the MTA chooses; like most MTAs,
		// failures and delays are reported, successes are not.
		return k != Success
	}
	for _, w := range strings.Split(notify, ",") {
		w = strings.TrimSpace(w)
		// RFC 3461 4.1: NEVER must not be combined with anything else.
		if w == "NEVER" {
			return false
		}
		if w == "FAILURE" && k == Failure || w == "DELAY" && k == Delay || w == "SUCCESS" && k == Success {
			return true
		}
	}
	return false
}

// Recipient is one recipient's line in a report.
type Recipient struct {
	envelope.Recipient
	// Status is the RFC 3463 status code, such as "5.1.1".
	Status string
	// Diagnostic is the RFC 3464 2.3.6 Diagnostic-Code value with its
	// type, such as "smtp; 550 5.1.1 no such user"; "" for none.
	Diagnostic string
	// RemoteMTA is the host name of the server that gave Diagnostic;
	// "" when the failure was local or the host is not known.
	RemoteMTA string
	// LastAttempt is when delivery was last tried; zero for unknown.
	LastAttempt time.Time
	// WillRetryUntil is when the queue gives up, for delay reports.
	WillRetryUntil time.Time
	// Action overrides the report kind's action for this recipient in
	// a success report (ActionRelayed, ActionExpanded); "" for the
	// kind's own.
	Action string
}

// action is the RFC 3464 2.3.3 Action value of rc in a report of kind k.
func (rc Recipient) action(k Kind) string {
	if k == Success && (rc.Action == ActionRelayed || rc.Action == ActionExpanded) {
		return rc.Action
	}
	return k.Action()
}

// Report is one notification to build.
type Report struct {
	Kind Kind
	// Env is the envelope of the message the report is about.
	Env *envelope.Envelope
	// To is where the report goes: the envelope sender, or the
	// postmaster for a report about a message with the null sender.
	To string
	// Postmaster marks a copy for the postmaster (a double bounce).
	Postmaster bool
	// Rcpts are the recipients the report is about.
	Rcpts []Recipient
	// Content is the original message (headers and body, CRLF lines), of
	// Env.Size bytes.
	Content io.ReaderAt
}

// Options are the settings of the reporting host.
type Options struct {
	// Hostname names this host: Reporting-MTA and MAILER-DAEMON@Hostname.
	Hostname string
	// Now is the report's Date.
	Now time.Time
	// MaxReturn caps the returned message: a message larger than this
	// is returned as its headers only. 0 means DefaultMaxReturn.
	MaxReturn int64
	// Until is when the queue gives up on the message (for the text of
	// delay reports); zero for unknown.
	Until time.Time
}

// DefaultMaxReturn is the largest message returned whole, as Postfix's
// bounce_size_limit (50 000 bytes) rounded up.
const DefaultMaxReturn = 64 << 10

// maxHeaderReturn caps the returned header block.
const maxHeaderReturn = 64 << 10

// Built is a finished notification, ready for the queue.
type Built struct {
	// Content is the whole message with CRLF line endings.
	Content []byte
	// EightBit reports non-ASCII bytes in Content (BODY=8BITMIME).
	EightBit bool
}

// Build writes the notification for r.
func Build(r Report, opt Options) (*Built, error) {
	if r.Env == nil {
		return nil, errors.New("dsn: no envelope")
	}
	if len(r.Rcpts) == 0 {
		return nil, errors.New("dsn: no recipients to report")
	}
	if r.To == "" {
		// RFC 3461 6.2 and RFC 5321 4.5.5: never to the null sender.
		return nil, errors.New("dsn: no notification to the null sender")
	}
	if opt.Hostname == "" {
		return nil, errors.New("dsn: no hostname")
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	if opt.MaxReturn <= 0 {
		opt.MaxReturn = DefaultMaxReturn
	}
	returned, full, err := returnedPart(r, opt)
	if err != nil {
		return nil, err
	}
	boundary, err := newBoundary(returned)
	if err != nil {
		return nil, err
	}
	host := clean(opt.Hostname)
	var b bytes.Buffer
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }

	h("From", "Mail Delivery System <MAILER-DAEMON@"+host+">")
	h("To", "<"+clean(r.To)+">")
	h("Subject", subject(r))
	h("Date", opt.Now.Format(time.RFC1123Z))
	h("Message-ID", "<"+randomToken()+"@"+host+">")
	// RFC 3834 5: an automatic response, not to be answered automatically.
	h("Auto-Submitted", "auto-replied")
	h("MIME-Version", "1.0")
	// RFC 3464 2 and RFC 6522 3: multipart/report with report-type=delivery-status.
	h("Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("This is a MIME-encapsulated message.\r\n\r\n")

	// RFC 6522 3: first part, human-readable.
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	writeHuman(&b, r, opt, full)

	// RFC 3464 2: second part, message/delivery-status.
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: message/delivery-status\r\n\r\n")
	writeStatus(&b, r, opt)

	// RFC 6522 3: optional third part, the returned message or its headers.
	b.WriteString("\r\n--" + boundary + "\r\n")
	if full {
		b.WriteString("Content-Type: message/rfc822\r\n")
	} else {
		// RFC 6522 4: text/rfc822-headers for the headers alone.
		b.WriteString("Content-Type: text/rfc822-headers\r\n")
	}
	if !isASCII(returned) {
		b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	}
	b.WriteString("\r\n")
	b.Write(returned)
	if !bytes.HasSuffix(returned, []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	out := b.Bytes()
	return &Built{Content: out, EightBit: !isASCII(out)}, nil
}

func subject(r Report) string {
	switch {
	case r.Postmaster:
		return "Postmaster copy: undelivered mail (its sender cannot be notified)"
	case r.Kind == Delay:
		return "Delayed Mail (still being retried)"
	case r.Kind == Success:
		return "Successful Mail Delivery Report"
	}
	return "Undelivered Mail Returned to Sender"
}

func writeHuman(b *bytes.Buffer, r Report, opt Options, full bool) {
	host := clean(opt.Hostname)
	line := func(s string) { b.WriteString(s + "\r\n") }
	switch {
	case r.Postmaster:
		line("This is the mail system at " + host + ".")
		line("")
		line("A message with no return address (the null sender, usually a bounce")
		line("itself) could not be delivered. Its sender cannot be told, so this")
		line("copy comes to the postmaster.")
	case r.Kind == Delay:
		line("This is the mail system at " + host + ".")
		line("")
		line("Your message could not be delivered yet to the recipients below.")
		if !opt.Until.IsZero() {
			line("It is still being retried until " + opt.Until.UTC().Format(time.RFC1123Z) + ";")
			line("you will be told if it fails for good. You do not need to send it again.")
		} else {
			line("It is still being retried. You do not need to send it again.")
		}
	case r.Kind == Success:
		line("This is the mail system at " + host + ".")
		line("")
		if relayedAny(r.Rcpts) {
			line("Your message was delivered to the recipients below, or passed on")
			line("to a server that will not report its delivery, as you asked to")
			line("be told.")
		} else {
			line("Your message was delivered to the recipients below, as you asked")
			line("to be told.")
		}
	default:
		line("This is the mail system at " + host + ".")
		line("")
		line("Your message could not be delivered to one or more recipients.")
		line("It is attached below.")
	}
	line("")
	for _, rc := range r.Rcpts {
		line("<" + clean(rc.Addr) + ">: " + rc.Kind(r.Kind))
		if d := diagnosticText(rc.Diagnostic); d != "" {
			line("    " + d)
		}
	}
	if r.Kind == Failure && !full {
		line("")
		line("Only the headers of the message are attached.")
	}
}

// relayedAny reports whether a recipient went to a next hop that does
// not report delivery.
func relayedAny(rcpts []Recipient) bool {
	for _, rc := range rcpts {
		if rc.action(Success) == ActionRelayed {
			return true
		}
	}
	return false
}

// Kind is the recipient's outcome in words.
func (rc Recipient) Kind(k Kind) string {
	switch k {
	case Delay:
		return "delivery delayed, still trying"
	case Success:
		switch rc.action(k) {
		case ActionRelayed:
			return "relayed to a server that does not report delivery"
		case ActionExpanded:
			return "delivered to an alias, which sent it on to several addresses"
		}
		return "delivered"
	}
	return "delivery failed"
}

// diagnosticText drops the type from a Diagnostic-Code value.
func diagnosticText(d string) string {
	if _, v, ok := strings.Cut(d, ";"); ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(d)
}

func writeStatus(b *bytes.Buffer, r Report, opt Options) {
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	env := r.Env
	// RFC 3464 2.2: per-message fields.
	h("Reporting-MTA", "dns; "+clean(opt.Hostname))
	// RFC 3464 2.2.1: Original-Envelope-Id must be given when the
	// message had an ENVID (RFC 3461 4.4).
	if env.EnvID != "" {
		h("Original-Envelope-Id", clean(env.EnvID))
	}
	h("X-Postern-Queue-ID", clean(env.ID))
	if !env.Received.IsZero() {
		h("Arrival-Date", env.Received.Format(time.RFC1123Z))
	}
	// RFC 3464 2.3: one block per recipient, each after a blank line.
	for _, rc := range r.Rcpts {
		b.WriteString("\r\n")
		if o := originalRecipient(rc.ORCPT); o != "" {
			h("Original-Recipient", o)
		}
		h("Final-Recipient", "rfc822; "+clean(rc.Addr))
		h("Action", rc.action(r.Kind))
		h("Status", statusCode(rc.Status, r.Kind))
		if rc.RemoteMTA != "" {
			h("Remote-MTA", "dns; "+clean(rc.RemoteMTA))
		}
		if rc.Diagnostic != "" {
			h("Diagnostic-Code", clean(rc.Diagnostic))
		}
		if !rc.LastAttempt.IsZero() {
			h("Last-Attempt-Date", rc.LastAttempt.Format(time.RFC1123Z))
		}
		if r.Kind == Delay && !rc.WillRetryUntil.IsZero() {
			h("Will-Retry-Until", rc.WillRetryUntil.Format(time.RFC1123Z))
		}
	}
}

// originalRecipient renders ORCPT ("rfc822;addr") as address-type; addr.
func originalRecipient(orcpt string) string {
	typ, addr, ok := strings.Cut(orcpt, ";")
	typ, addr = strings.TrimSpace(typ), strings.TrimSpace(addr)
	if !ok || typ == "" || addr == "" || strings.ContainsAny(typ, " \t") {
		return ""
	}
	return clean(typ) + "; " + clean(addr)
}

// statusCode returns a valid RFC 3463 code whose class fits the kind.
func statusCode(s string, k Kind) string {
	if ValidStatus(s) {
		return s
	}
	switch k {
	case Delay:
		return "4.0.0"
	case Success:
		return "2.0.0"
	}
	return "5.0.0"
}

// ValidStatus reports whether s is an RFC 3463 status code: class 2, 4 or
// 5, subject 0-999, detail 0-999.
func ValidStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// returnedPart reads what is returned: the whole message for a failure
// when RET is not HDRS and it fits MaxReturn, its headers otherwise.
func returnedPart(r Report, opt Options) ([]byte, bool, error) {
	size := r.Env.Size
	if r.Content == nil {
		size = 0
	}
	// RFC 3461 4.3: RET=HDRS asks for the headers only; delay and
	// success reports carry the headers only as well.
	full := r.Kind == Failure && !strings.EqualFold(r.Env.DSNRet, "HDRS") && size <= opt.MaxReturn
	if full {
		buf := make([]byte, size)
		if _, err := r.Content.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
			return nil, false, fmt.Errorf("dsn: reading the message: %w", err)
		}
		return canonical(buf), true, nil
	}
	if size == 0 {
		return nil, false, nil
	}
	br := bufio.NewReader(io.NewSectionReader(r.Content, 0, min(size, maxHeaderReturn)))
	var hdr bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0 {
			break // the blank line ends the header
		}
		hdr.Write(line)
		if err != nil {
			break
		}
	}
	return canonical(hdr.Bytes()), false, nil
}

// canonical makes every line end in CRLF (a bare CR or LF becomes CRLF),
// so that nothing in the returned part can confuse a MIME parser.
func canonical(p []byte) []byte {
	out := make([]byte, 0, len(p)+len(p)/32)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(p) && p[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

// newBoundary returns a MIME boundary that occurs nowhere in content.
func newBoundary(content []byte) (string, error) {
	for range 10 {
		b := "=_postern_" + randomToken()
		if !bytes.Contains(content, []byte(b)) {
			return b, nil
		}
	}
	return "", errors.New("dsn: no usable MIME boundary")
}

func randomToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clean keeps a value on its header line: control characters become
// spaces, so no address or error text can add a header or a part.
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func isASCII(p []byte) bool {
	for _, c := range p {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
