package dmarcreport

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/mail"
	"strings"
	"time"

	"postern/internal/dmarc"
	pdns "postern/internal/dns"
)

// ReporterOptions configure aggregate report sending.
type ReporterOptions struct {
	// ReceiverDomain names this receiver in report file names and in the
	// Submitter of the subject (RFC 7489 7.2.1.1), e.g. "mx.example.net".
	ReceiverDomain string
	// OrgName is report_metadata org_name; "" means ReceiverDomain.
	OrgName string
	// From is the report sender ([dmarc] report_from), also the envelope
	// sender and report_metadata email.
	From string
	// ExtraContactInfo is an optional URL or text for report readers.
	ExtraContactInfo string
	// Interval is the report period ([dmarc] report_interval); 0 means
	// 24h. At least MinInterval: periods under an hour are for test and
	// lab set-ups (receivers send reports for an hour or more, RFC 7489
	// 7.2).
	Interval time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// MinInterval is the shortest report period.
const MinInterval = time.Minute

// Outgoing is one report message ready for the spool.
type Outgoing struct {
	From         string   // envelope sender
	To           []string // envelope recipients
	Data         []byte   // the RFC 5322 message, CRLF line ends
	PolicyDomain string
	ReportID     string
}

// Reporter builds aggregate reports from a Backend.
type Reporter struct {
	backend  Backend
	resolver pdns.Resolver
	log      *slog.Logger
	opt      ReporterOptions
}

// NewReporter returns a reporter; opt.ReceiverDomain and opt.From are required.
func NewReporter(b Backend, resolver pdns.Resolver, log *slog.Logger, opt ReporterOptions) (*Reporter, error) {
	if opt.ReceiverDomain == "" {
		return nil, errors.New("dmarc reports: receiver domain not set")
	}
	if _, err := mail.ParseAddress(opt.From); err != nil || !strings.Contains(opt.From, "@") {
		return nil, fmt.Errorf("dmarc reports: report_from %q is not an address", opt.From)
	}
	if opt.OrgName == "" {
		opt.OrgName = opt.ReceiverDomain
	}
	if opt.Interval <= 0 {
		opt.Interval = 24 * time.Hour
	}
	if opt.Interval < MinInterval {
		return nil, fmt.Errorf("dmarc reports: report interval %s is below one minute", opt.Interval)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Reporter{backend: b, resolver: resolver, log: log, opt: opt}, nil
}

// Period returns the last complete report period before now: periods
// are aligned on multiples of the interval since the epoch (midnight UTC
// for 24h).
func (r *Reporter) Period(now time.Time) (begin, end time.Time) {
	end = now.UTC().Truncate(r.opt.Interval)
	return end.Add(-r.opt.Interval), end
}

// Run calls Tick every few minutes until ctx ends; send injects one
// report into the spool. A report that send refuses is tried again at
// the next tick.
func (r *Reporter) Run(ctx context.Context, send func(context.Context, Outgoing) error) error {
	tick := time.NewTicker(min(r.opt.Interval/12, 10*time.Minute))
	defer tick.Stop()
	for {
		err := r.Tick(ctx, send)
		if err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "dmarc reports", "err", err)
		}
		if p, ok := r.backend.(interface{ Prune(time.Time) error }); ok {
			// Evaluations (and the record of what was sent) are kept for a
			// week after the periods they were reported in.
			begin, _ := r.Period(r.opt.Now())
			if perr := p.Prune(begin.Add(-Retention)); perr != nil {
				r.log.WarnContext(ctx, "dmarc store prune", "err", perr)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Build returns the report messages for the period [begin, end): one per
// policy domain and rua mailbox, leaving out mailboxes that fail the
// external destination check or whose size limit the report exceeds.
// When a destination could not be checked because DNS failed for the
// moment, the others are returned with an error wrapping errTryLater.
func (r *Reporter) Build(ctx context.Context, begin, end time.Time) ([]Outgoing, error) {
	aggs, err := collect(ctx, r.backend, begin, end)
	if err != nil {
		return nil, err
	}
	var out []Outgoing
	var later error // destinations that could not be checked for now
	for _, dom := range sortedKeys(aggs) {
		a := aggs[dom]
		id := r.reportID(a.policy.Domain, begin, end)
		meta := ReportMetadata{OrgName: r.opt.OrgName, Email: r.opt.From, ExtraContactInfo: r.opt.ExtraContactInfo,
			ReportID: id, DateRange: DateRange{Begin: Int(begin.Unix()), End: Int(end.Unix() - 1)}}
		fb := a.feedback(meta)
		xmlDoc, err := MarshalReport(fb)
		if err != nil {
			return out, fmt.Errorf("report for %s: %w", dom, err)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(xmlDoc)
		if err := zw.Close(); err != nil {
			return out, err
		}
		// RFC 7489 7.2.1.1: filename = receiver "!" policy-domain "!" begin "!" end "." extension.
		filename := fmt.Sprintf("%s!%s!%d!%d.xml.gz", r.opt.ReceiverDomain, a.policy.Domain, begin.Unix(), end.Unix()-1)
		for _, raw := range a.policy.RUA {
			u, err := dmarc.ParseReportURI(raw)
			if err != nil {
				continue
			}
			dests, why, err := destinations(ctx, r.resolver, a.policy.Domain, tagRUA, u)
			if err != nil {
				later = errors.Join(later, fmt.Errorf("report for %s to %s: %w", dom, u.URI, err))
				continue
			}
			if len(dests) == 0 {
				r.log.InfoContext(ctx, "dmarc report destination not authorised", "domain", dom, "uri", u.URI, "why", why)
				continue
			}
			for _, d := range dests {
				rcpt := d.Address()
				if rcpt == "" {
					r.log.InfoContext(ctx, "dmarc report: only mailto: destinations are supported", "domain", dom, "uri", d.URI)
					continue
				}
				msg := r.compose(a.policy.Domain, id, rcpt, filename, gz.Bytes(), begin, end)
				// RFC 7489 6.2: a report larger than the URI's size limit is not sent there.
				if d.MaxSize > 0 && int64(len(msg)) > d.MaxSize {
					r.log.InfoContext(ctx, "dmarc report larger than the destination's limit; not sent",
						"domain", dom, "to", rcpt, "bytes", len(msg), "limit", d.MaxSize)
					continue
				}
				out = append(out, Outgoing{From: r.opt.From, To: []string{rcpt}, Data: msg, PolicyDomain: a.policy.Domain, ReportID: id})
			}
		}
	}
	return out, later
}

// compose builds the report message (RFC 7489 7.2.1.1).
func (r *Reporter) compose(policyDomain, id, rcpt, filename string, gz []byte, begin, end time.Time) []byte {
	var b bytes.Buffer
	boundary := randomToken()
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", (&mail.Address{Address: r.opt.From}).String())
	h("To", (&mail.Address{Address: rcpt}).String())
	// RFC 7489 7.2.1.1: Subject "Report Domain: <domain> Submitter: <receiver> Report-ID: <id>".
	h("Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", policyDomain, r.opt.ReceiverDomain, id))
	h("Date", r.opt.Now().UTC().Format(time.RFC1123Z))
	// The same report to the same mailbox always has the same Message-ID,
	// so that a copy sent again after a crash is seen as a duplicate.
	h("Message-ID", "<"+messageToken(id, rcpt)+"."+id+">")
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	h("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}))
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	h("Content-Type", "text/plain; charset=us-ascii")
	h("Content-Transfer-Encoding", "7bit")
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "This is a DMARC aggregate report for %s from %s,\r\ncovering %s to %s (UTC).\r\n",
		policyDomain, r.opt.ReceiverDomain, begin.UTC().Format(time.DateTime), end.UTC().Format(time.DateTime))
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	h("Content-Type", mime.FormatMediaType("application/gzip", map[string]string{"name": filename}))
	h("Content-Transfer-Encoding", "base64")
	h("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// reportID is report_metadata report_id (RFC 7489 Appendix C) and the
// Report-ID of the subject: made only of the policy domain, the period
// and this receiver's name, so that a report built again (after a crash
// between queueing it and recording that it was queued) carries the same
// ID and the report's reader can drop the duplicate.
func (r *Reporter) reportID(policyDomain string, begin, end time.Time) string {
	return fmt.Sprintf("%s.%d.%d@%s", policyDomain, begin.Unix(), end.Unix(), r.opt.ReceiverDomain)
}

// messageToken is the unique part of a report's Message-ID: the same for
// the same report to the same mailbox.
func messageToken(id, rcpt string) string {
	sum := sha256.Sum256([]byte(id + "\x00" + strings.ToLower(rcpt)))
	return hex.EncodeToString(sum[:12])
}

func randomToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
