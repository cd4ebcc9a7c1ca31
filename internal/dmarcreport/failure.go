package dmarcreport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"postern/internal/dmarc"
	pdns "postern/internal/dns"
)

// FailureOptions configure failure reports ([dmarc] failure_reports).
type FailureOptions struct {
	// ReceiverDomain is this host's name, the Reporting-MTA of reports.
	ReceiverDomain string
	// From is the report sender ([dmarc] report_from): the From header
	// field and the envelope sender.
	From string
	// UserAgent names the software in reports; "" means "postern".
	UserAgent string
	// Interval is the least time between two reports about the same
	// policy domain and client address ([dmarc] failure_report_interval);
	// 0 means DefaultFailureInterval.
	Interval time.Duration
	// PerHour caps the reports sent in any clock hour, whatever the
	// domain ([dmarc] failure_reports_per_hour); 0 means DefaultFailurePerHour.
	PerHour int
	// Queue is how many reports may wait to be sent; 0 means 64. Reports
	// beyond are dropped (and logged) so that SMTP sessions never wait.
	Queue int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Defaults of FailureOptions.
const (
	DefaultFailureInterval = time.Hour
	DefaultFailurePerHour  = 100
	defaultFailureQueue    = 64
	// maxReportedHeader bounds the original header put in a report.
	maxReportedHeader = 64 << 10
	// maxRateKeys bounds the rate limiter's memory.
	maxRateKeys = 100000
)

// Failure is what the inbound path knows of one message whose DMARC
// evaluation a failure report may be due about.
type Failure struct {
	Result dmarc.Result // the evaluation
	Input  dmarc.Input  // what it was evaluated from: SPF and DKIM results, client address
	// Kind is the Auth-Failure of the report, from Result.FailureReportDue.
	Kind dmarc.FailureKind
	// MailFrom is the RFC5321.MailFrom address; "" for the null sender.
	MailFrom string
	// EnvelopeID is the ENVID of MAIL FROM (RFC 3461), "" if none.
	EnvelopeID string
	// Arrival is when the message arrived.
	Arrival time.Time
	// AuthResults is the Authentication-Results value written for the
	// message (after the authserv-id).
	AuthResults string
	// Delivery is what happened to the message: "delivered", "spam",
	// "policy" (held), "reject" or "other" (RFC 6591 3.2).
	Delivery string
	// Signatures are the DKIM signatures checked, with their i= identity.
	Signatures []Signature
	// Header is the message's header section as received; only it, never
	// the body, goes into the report.
	Header []byte
}

// Signature is one DKIM signature as a failure report describes it.
type Signature struct {
	Domain, Selector, Identity, Result string
}

// FailureReporter sends DMARC failure reports (RFC 7489 7.3) in the
// format of RFC 6591. ReportFailure, called from the SMTP session,
// decides and queues; Run composes and hands reports to the spool. It
// keeps its rate limits in memory: a restart forgets them.
type FailureReporter struct {
	resolver pdns.Resolver
	log      *slog.Logger
	opt      FailureOptions
	queue    chan Failure

	mu        sync.Mutex
	last      map[string]time.Time // policy domain + client address: last report queued
	hourStart time.Time
	hourCount int
}

// NewFailureReporter returns a reporter; opt.ReceiverDomain and opt.From
// are required.
func NewFailureReporter(resolver pdns.Resolver, log *slog.Logger, opt FailureOptions) (*FailureReporter, error) {
	if opt.ReceiverDomain == "" {
		return nil, errors.New("dmarc failure reports: receiver domain not set")
	}
	if _, err := mail.ParseAddress(opt.From); err != nil || !strings.Contains(opt.From, "@") {
		return nil, fmt.Errorf("dmarc failure reports: report_from %q is not an address", opt.From)
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "postern"
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultFailureInterval
	}
	if opt.PerHour <= 0 {
		opt.PerHour = DefaultFailurePerHour
	}
	if opt.Queue <= 0 {
		opt.Queue = defaultFailureQueue
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &FailureReporter{resolver: resolver, log: log, opt: opt,
		queue: make(chan Failure, opt.Queue), last: map[string]time.Time{}}, nil
}

// ReportFailure queues a failure report about f if one is due: the
// policy domain asked for it (ruf and fo), the message is not itself a
// report or a bounce, and the rate limits allow it. It never blocks.
func (r *FailureReporter) ReportFailure(ctx context.Context, f Failure) {
	if f.Kind == "" {
		kind, ok := f.Result.FailureReportDue(f.Input)
		if !ok {
			return
		}
		f.Kind = kind
	}
	if why := loopRisk(f); why != "" {
		r.log.DebugContext(ctx, "dmarc failure report not sent", "domain", f.Result.PolicyDomain, "why", why)
		return
	}
	if why := r.allow(f.Result.PolicyDomain, f.Input.SourceIP.String()); why != "" {
		r.log.InfoContext(ctx, "dmarc failure report not sent", "domain", f.Result.PolicyDomain, "ip", f.Input.SourceIP, "why", why)
		return
	}
	if len(f.Header) > maxReportedHeader {
		f.Header = f.Header[:maxReportedHeader]
	}
	select {
	case r.queue <- f:
	default:
		r.log.WarnContext(ctx, "dmarc failure report dropped: too many waiting to be sent", "domain", f.Result.PolicyDomain, "ip", f.Input.SourceIP)
	}
}

// loopRisk says why no report may be sent about f, or "". Reports and
// bounces are never reported on: a report about a report could answer
// another receiver's report about ours, without end.
func loopRisk(f Failure) string {
	if f.MailFrom == "" {
		return "null sender (a bounce or a report)"
	}
	// The blank line added ends a header section cut short before its end.
	hdr := append(append([]byte(nil), f.Header...), "\r\n\r\n"...)
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(hdr))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	if mt, params, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && mt == "multipart/report" {
		// RFC 6591 3 and RFC 3464 2: reports and delivery status notifications are multipart/report.
		return "the message is a report (" + params["report-type"] + ")"
	}
	return ""
}

// allow applies the rate limits and, when they allow a report, counts it.
func (r *FailureReporter) allow(domain, ip string) string {
	now := r.opt.Now()
	key := strings.ToLower(domain) + " " + ip
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[key]; ok && now.Sub(t) < r.opt.Interval {
		return fmt.Sprintf("one report per domain and client address every %s", r.opt.Interval)
	}
	if h := now.Truncate(time.Hour); !h.Equal(r.hourStart) {
		r.hourStart, r.hourCount = h, 0
	}
	if r.hourCount >= r.opt.PerHour {
		return fmt.Sprintf("at most %d reports an hour", r.opt.PerHour)
	}
	if len(r.last) >= maxRateKeys/2 {
		for k, t := range r.last {
			if now.Sub(t) >= r.opt.Interval {
				delete(r.last, k)
			}
		}
		if len(r.last) >= maxRateKeys {
			return "too many recent reports to remember"
		}
	}
	r.last[key] = now
	r.hourCount++
	return ""
}

// Run sends the queued reports until ctx ends, handing each message to
// send (which injects it into the spool).
func (r *FailureReporter) Run(ctx context.Context, send func(context.Context, Outgoing) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-r.queue:
			for _, o := range r.Build(ctx, f) {
				if err := send(ctx, o); err != nil {
					r.log.ErrorContext(ctx, "dmarc failure report not queued", "domain", o.PolicyDomain, "to", o.To, "err", err)
				}
			}
		}
	}
}

// Build returns the report messages about f: one per ruf mailbox that
// accepts reports about the policy domain (RFC 7489 7.1) and whose size
// limit the report fits.
func (r *FailureReporter) Build(ctx context.Context, f Failure) []Outgoing {
	res := f.Result
	if res.Record == nil {
		return nil
	}
	id := fmt.Sprintf("%s.%d.%s@%s", res.PolicyDomain, r.opt.Now().Unix(), randomToken()[:8], r.opt.ReceiverDomain)
	var out []Outgoing
	seen := map[string]bool{}
	for _, u := range res.Record.RUF {
		// A failure report is about one message, now: one whose
		// destination cannot be checked for the moment is not sent.
		dests, why, _ := destinations(ctx, r.resolver, res.PolicyDomain, tagRUF, u)
		if len(dests) == 0 {
			r.log.InfoContext(ctx, "dmarc failure report destination not authorised", "domain", res.PolicyDomain, "uri", u.URI, "why", why)
			continue
		}
		for _, d := range dests {
			rcpt := d.Address()
			if rcpt == "" {
				r.log.InfoContext(ctx, "dmarc failure report: only mailto: destinations are supported", "domain", res.PolicyDomain, "uri", d.URI)
				continue
			}
			if seen[strings.ToLower(rcpt)] {
				continue
			}
			seen[strings.ToLower(rcpt)] = true
			msg := r.compose(f, rcpt, id)
			// RFC 7489 6.2: a report larger than the URI's size limit is not sent there.
			if d.MaxSize > 0 && int64(len(msg)) > d.MaxSize {
				r.log.InfoContext(ctx, "dmarc failure report larger than the destination's limit; not sent",
					"domain", res.PolicyDomain, "to", rcpt, "bytes", len(msg), "limit", d.MaxSize)
				continue
			}
			// Sent from report_from like aggregate reports: a report that
			// bounces comes back to a mailbox the admin reads, and the
			// bounce (null sender) is never reported on.
			out = append(out, Outgoing{From: r.opt.From, To: []string{rcpt}, Data: msg, PolicyDomain: res.PolicyDomain, ReportID: id})
		}
	}
	return out
}

// compose builds one report: RFC 7489 7.3 asks for the format of RFC
// 6591, an ARF message (RFC 5965) of three parts.
func (r *FailureReporter) compose(f Failure, rcpt, id string) []byte {
	res := f.Result
	var b bytes.Buffer
	boundary := randomToken()
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", (&mail.Address{Address: r.opt.From}).String())
	h("To", (&mail.Address{Address: rcpt}).String())
	h("Subject", "DMARC failure report for "+res.FromDomain)
	h("Date", r.opt.Now().UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+randomToken()+"."+id+">")
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	// RFC 5965 2 (a): multipart/report with report-type=feedback-report.
	h("Content-Type", mime.FormatMediaType("multipart/report", map[string]string{"report-type": "feedback-report", "boundary": boundary}))
	b.WriteString("\r\n")

	// RFC 5965 2 (b): the first part is human-readable.
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	h("Content-Type", "text/plain; charset=us-ascii")
	h("Content-Transfer-Encoding", "7bit")
	b.WriteString("\r\n")
	b.WriteString(humanText(f, r.opt.ReceiverDomain))

	// RFC 5965 2 (c), 3: the machine-readable message/feedback-report part.
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	h("Content-Type", "message/feedback-report")
	h("Content-Transfer-Encoding", "7bit")
	b.WriteString("\r\n")
	b.Write(feedbackFields(f, r.opt.UserAgent, r.opt.ReceiverDomain))
	// RFC 2046 5.1.1: the CRLF before a boundary belongs to it; this one
	// keeps the last field's own line end.
	b.WriteString("\r\n")

	// RFC 6591 3.1 / RFC 5965 2 (d): the third part is the original
	// message or, as here, only its header (text/rfc822-headers): the
	// body stays private.
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	hdr := crlf(f.Header)
	cte := "7bit"
	for _, c := range hdr {
		if c >= 0x80 {
			cte = "8bit"
			break
		}
	}
	h("Content-Type", "text/rfc822-headers")
	h("Content-Transfer-Encoding", cte)
	b.WriteString("\r\n")
	b.Write(hdr)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// feedbackFields renders the message/feedback-report fields.
func feedbackFields(f Failure, userAgent, receiver string) []byte {
	res := f.Result
	var b bytes.Buffer
	h := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, asciiOnly(oneLine(v)))
		}
	}
	// RFC 5965 3.1: Feedback-Type, User-Agent and Version are required.
	h("Feedback-Type", "auth-failure") // RFC 6591 3.1
	h("User-Agent", userAgent)
	h("Version", "1")
	// RFC 5965 3.2: optional fields, once each.
	h("Original-Envelope-Id", f.EnvelopeID)
	if f.MailFrom != "" {
		h("Original-Mail-From", "<"+f.MailFrom+">")
	}
	if !f.Arrival.IsZero() {
		h("Arrival-Date", f.Arrival.Format(time.RFC1123Z))
	}
	h("Reporting-MTA", "dns; "+receiver)
	if f.Input.SourceIP.IsValid() {
		h("Source-IP", f.Input.SourceIP.Unmap().String())
	}
	// RFC 6591 3.1: Authentication-Results and Reported-Domain are required in auth-failure reports.
	ar := f.AuthResults
	if ar == "" {
		ar = receiver + "; " + res.AuthResultsClause()
	}
	fmt.Fprintf(&b, "Authentication-Results: %s\r\n", foldedValue(ar))
	h("Reported-Domain", res.FromDomain)
	// RFC 6591 3.1: Auth-Failure is required; RFC 7489 7.3 adds "dmarc".
	h("Auth-Failure", string(f.Kind))
	h("Delivery-Result", f.Delivery) // RFC 6591 3.2
	if sig, ok := reportedSignature(f); ok {
		// RFC 6591 3.2: DKIM-Domain, DKIM-Identity and DKIM-Selector name the signature concerned.
		h("DKIM-Domain", sig.Domain)
		h("DKIM-Identity", sig.Identity)
		h("DKIM-Selector", sig.Selector)
	}
	// RFC 7489 7.3: Identity-Alignment lists the mechanisms that produced an aligned pass, or "none".
	var aligned []string
	if res.DKIMAligned {
		aligned = append(aligned, "dkim")
	}
	if res.SPFAligned {
		aligned = append(aligned, "spf")
	}
	if len(aligned) == 0 {
		aligned = []string{"none"}
	}
	h("Identity-Alignment", strings.Join(aligned, ", "))
	return b.Bytes()
}

// reportedSignature picks the DKIM signature the report is about: the
// first that failed, or else the first one checked.
func reportedSignature(f Failure) (Signature, bool) {
	if len(f.Signatures) == 0 {
		return Signature{}, false
	}
	for _, s := range f.Signatures {
		if !strings.EqualFold(s.Result, "pass") {
			return s, true
		}
	}
	return f.Signatures[0], true
}

// humanText is the first, human-readable part.
func humanText(f Failure, receiver string) string {
	res := f.Result
	var b strings.Builder
	fmt.Fprintf(&b, "This is a DMARC failure report (RFC 7489 section 7.3) from %s.\r\n\r\n", asciiOnly(receiver))
	fmt.Fprintf(&b, "A message claiming to be from %s arrived", asciiOnly(res.FromDomain))
	if f.Input.SourceIP.IsValid() {
		fmt.Fprintf(&b, " from %s", f.Input.SourceIP.Unmap())
	}
	if !f.Arrival.IsZero() {
		fmt.Fprintf(&b, " at %s UTC", f.Arrival.UTC().Format(time.DateTime))
	}
	b.WriteString(".\r\n")
	switch f.Kind {
	case dmarc.FailureDMARC:
		fmt.Fprintf(&b, "It failed DMARC for the policy of %s (p=%s): neither SPF nor DKIM\r\nproduced a pass aligned with the From domain.\r\n",
			asciiOnly(res.PolicyDomain), res.Policy)
	case dmarc.FailureDKIM:
		b.WriteString("A DKIM signature on it did not verify; the record's fo= tag asks\r\nfor reports about that.\r\n")
	case dmarc.FailureSPF:
		b.WriteString("It failed SPF; the record's fo= tag asks for reports about that.\r\n")
	}
	if f.Delivery != "" {
		fmt.Fprintf(&b, "What happened to it: %s.\r\n", f.Delivery)
	}
	b.WriteString("\r\nOnly the header of the message is attached; its body is not.\r\n")
	return b.String()
}

// oneLine removes line breaks from a field value.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// foldedValue keeps a folded value's continuation lines (CRLF followed
// by white space) and turns any other line break into a space.
func foldedValue(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(out) > 0 && l[0] != ' ' && l[0] != '\t' {
			l = "\t" + l
		}
		// The part is 7bit: anything else is replaced, tabs kept.
		out = append(out, keepTabs(l))
	}
	return strings.Join(out, "\r\n")
}

// crlf gives every line of a header section CRLF line ends and drops the
// blank line that ends it.
func crlf(hdr []byte) []byte {
	s := strings.ReplaceAll(string(hdr), "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return []byte(strings.ReplaceAll(s, "\n", "\r\n") + "\r\n")
}

// asciiOnly replaces anything but printable ASCII, for the us-ascii part.
func asciiOnly(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// ReadHeader returns the header section at the start of a message, with
// its line ends as they are, up to a limit; the body is not read.
func ReadHeader(msg io.Reader) []byte {
	br := bufio.NewReader(io.LimitReader(msg, maxReportedHeader))
	var b bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		if len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0 && line[len(line)-1] == '\n' {
			break // the blank line before the body
		}
		b.Write(line)
		if err != nil && err != bufio.ErrBufferFull {
			break
		}
	}
	return b.Bytes()
}

// keepTabs is asciiOnly for a folded line, whose tabs are kept.
func keepTabs(s string) string {
	parts := strings.Split(s, "\t")
	for i, p := range parts {
		parts[i] = asciiOnly(p)
	}
	return strings.Join(parts, "\t")
}
