package tlsrpt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"sort"
	"strings"
	"time"

	pdns "postern/internal/dns"
)

// Resolver looks up TLSRPT records; postern's dns.Resolver is one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// ReporterOptions configure report sending.
type ReporterOptions struct {
	// Submitter is the domain that sends the reports ([tlsrpt]
	// submitter): TLS-Report-Submitter, the report file names and the
	// report IDs. Required.
	Submitter string
	// From is the sender of mailed reports ([tlsrpt] report_from), in
	// the Submitter's domain (RFC 8460 5.3). Required.
	From string
	// ContactInfo is the report's contact-info; "" means From.
	ContactInfo string
	// OrgName is organization-name; "" means Submitter.
	OrgName string
	// HTTPClient posts reports to https: destinations; nil passes them
	// over.
	HTTPClient *http.Client
	// MaxReportBytes bounds a compressed report; 0 means
	// DefaultMaxReportBytes. A larger one is not sent.
	MaxReportBytes int
	// Signer, when set, DKIM-signs mailed reports for the Submitter's
	// domain (RFC 8460 5.3: reports must carry a signature of the
	// reporting domain); a *dkim.Signer is one. A report it fails to
	// sign waits for the next tick.
	Signer Signer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Signer returns the DKIM-Signature header fields for a message from
// domain ("" when the domain has no key).
type Signer interface {
	Sign(ctx context.Context, domain string, msg io.Reader) (string, error)
}

// Mail is one report message for the spool.
type Mail struct {
	From         string // envelope sender
	To           string // envelope recipient
	Data         []byte // the RFC 5322 message, CRLF line ends
	PolicyDomain string
	ReportID     string
}

// Reporter sends each complete day's reports from a Store.
type Reporter struct {
	store    Counts
	claims   Claims
	resolver Resolver
	log      *slog.Logger
	opt      ReporterOptions
	// retry holds the destinations that failed, until when they rest;
	// entries older than a day are dropped at each tick.
	retry map[string]time.Time
}

// leaser is Claims shared by the nodes of a fleet
// (dmarcreport.Leaser): a node takes a domain's lease before it sends
// its report, so that of two nodes trying at once exactly one sends.
type leaser interface {
	Lease(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Unlease(ctx context.Context, key string) error
}

// leaseTTL bounds how long a node that crashed holds a report back.
const leaseTTL = 10 * time.Minute

// maxRUA bounds the destinations of one record that get the report.
const maxRUA = 5

// retryAfter is how long an https: destination that failed rests.
const retryAfter = time.Hour

// NewReporter returns a reporter; opt.Submitter and opt.From are required.
func NewReporter(store Counts, claims Claims, resolver Resolver, log *slog.Logger, opt ReporterOptions) (*Reporter, error) {
	if opt.Submitter == "" {
		return nil, errors.New("TLS reports: submitter not set")
	}
	if a, err := mail.ParseAddress(opt.From); err != nil || a.Address != opt.From {
		return nil, fmt.Errorf("TLS reports: report_from %q is not an address", opt.From)
	}
	if opt.ContactInfo == "" {
		opt.ContactInfo = opt.From
	}
	if opt.OrgName == "" {
		opt.OrgName = opt.Submitter
	}
	if opt.MaxReportBytes <= 0 {
		opt.MaxReportBytes = DefaultMaxReportBytes
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Reporter{store: store, claims: claims, resolver: resolver, log: log, opt: opt, retry: map[string]time.Time{}}, nil
}

// Run sends reports every ten minutes, and writes the counts every
// minute, until ctx ends; send puts one report message into the spool.
// The counts are written a last time when it returns.
func (r *Reporter) Run(ctx context.Context, send func(context.Context, Mail) error) {
	flush := time.NewTicker(time.Minute)
	defer flush.Stop()
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		if err := r.Tick(ctx, send); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "TLS reports", "err", err)
		}
		r.prune()
	wait:
		for {
			select {
			case <-ctx.Done():
				if err := r.store.Close(); err != nil {
					r.log.Error("TLS report counts not saved", "err", err)
				}
				return
			case <-flush.C:
				if err := r.store.Flush(); err != nil {
					r.log.WarnContext(ctx, "TLS report counts not saved; tried again in a minute", "err", err)
				}
			case <-tick.C:
				break wait
			}
		}
	}
}

// prune drops the counts and the claims of the days out of Retention.
func (r *Reporter) prune() {
	before := today(r.opt.Now()).Add(-Retention)
	if err := r.store.Prune(before); err != nil {
		r.log.Warn("TLS report store prune", "err", err)
	}
	if err := r.claims.Prune(before); err != nil {
		r.log.Warn("TLS report claims prune", "err", err)
	}
}

func today(now time.Time) time.Time { return now.UTC().Truncate(24 * time.Hour) }

// Tick sends the reports not yet sent of every complete day within
// Retention, oldest first. A report is recorded as sent once it was
// handed to send (mailto:) or posted (https:); one that failed is tried
// again at a later tick, the same report with the same ID. A day whose
// reports have all gone, or that has none, is recorded as done.
func (r *Reporter) Tick(ctx context.Context, send func(context.Context, Mail) error) error {
	if err := r.store.Flush(); err != nil {
		r.log.WarnContext(ctx, "TLS report counts not saved", "err", err)
	}
	now := r.opt.Now()
	for k, t := range r.retry {
		if now.Sub(t) > 24*time.Hour {
			delete(r.retry, k)
		}
	}
	days, err := r.store.Days()
	if err != nil {
		return err
	}
	// A fleet's day is complete once every node has written its counts.
	end := today(now)
	if st, ok := r.store.(interface{ settle() time.Duration }); ok {
		end = today(now.Add(-st.settle()))
	}
	var errs []error
	for _, begin := range days {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !begin.Before(end) || begin.Before(end.Add(-Retention)) {
			continue
		}
		if err := r.sendDay(ctx, dayPeriod(begin), send); err != nil {
			errs = append(errs, fmt.Errorf("day %s: %w", begin.Format(dayFormat), err))
		}
	}
	return errors.Join(errs...)
}

// sendDay sends the reports of one day that are not sent yet.
func (r *Reporter) sendDay(ctx context.Context, p period, send func(context.Context, Mail) error) error {
	if done, err := r.claims.Claimed(ctx, p.doneKey()); err != nil || done {
		return err
	}
	day, err := r.store.Load(p.begin)
	if err != nil {
		return err
	}
	domains := make([]string, 0, len(day.Domains))
	for d := range day.Domains {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	var errs []error
	pending := 0
	for _, dom := range domains {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := r.sendDomain(ctx, p, dom, day.Domains[dom], send)
		if err != nil {
			errs = append(errs, err)
		}
		if !done {
			pending++
		}
	}
	if pending > 0 {
		return errors.Join(append(errs, fmt.Errorf("the reports of %d domains not all sent; tried again at the next tick", pending))...)
	}
	if day.DroppedSessions > 0 || day.DroppedRows > 0 {
		r.log.WarnContext(ctx, "TLS reports: the day's counts reached their limits; some sessions were not reported in detail",
			"day", p.begin.Format(dayFormat), "dropped_sessions", day.DroppedSessions, "dropped_rows", day.DroppedRows)
	}
	_, err = r.claims.Claim(ctx, p.doneKey())
	return errors.Join(append(errs, err)...)
}

// sendDomain sends a policy domain's report to each rua of its TLSRPT
// record, and reports whether all of them are done with (sent, or
// refused for good).
func (r *Reporter) sendDomain(ctx context.Context, p period, dom string, results []*PolicyResult, send func(context.Context, Mail) error) (bool, error) {
	dkey := p.domainKey(dom)
	if done, err := r.claims.Claimed(ctx, dkey); err != nil || done {
		return done, err
	}
	if l, ok := r.claims.(leaser); ok {
		// Of two nodes of a fleet, the one with the lease sends; the
		// other sees the report sent at a later tick.
		held, err := l.Lease(ctx, dkey+".lease", leaseTTL)
		if err != nil || !held {
			return false, err
		}
		defer l.Unlease(context.WithoutCancel(ctx), dkey+".lease")
		if done, err := r.claims.Claimed(ctx, dkey); err != nil || done {
			return done, err
		}
	}
	rec, err := r.lookup(ctx, dom)
	if err != nil {
		return false, err
	}
	pending := false
	if rec != nil {
		pending = r.sendReport(ctx, p, dom, results, rec, send)
	}
	if pending {
		return false, nil
	}
	_, err = r.claims.Claim(ctx, dkey)
	return err == nil, err
}

// sendReport sends a domain's report to the first maxRUA destinations of
// its record, and reports whether some are left for a later tick. A
// report too large to send is given up.
func (r *Reporter) sendReport(ctx context.Context, p period, dom string, results []*PolicyResult, rec *Record, send func(context.Context, Mail) error) bool {
	rep := r.report(p, dom, results)
	gz, err := rep.Encode(r.opt.MaxReportBytes)
	if err != nil {
		r.log.ErrorContext(ctx, "TLS report not sent", "domain", dom, "err", err)
		return false
	}
	uris := rec.RUA
	if len(uris) > maxRUA {
		r.log.InfoContext(ctx, "TLS report: destinations past the first few passed over", "domain", dom, "rua", len(uris))
		uris = uris[:maxRUA]
	}
	pending := false
	for _, u := range uris {
		if !r.sendOne(ctx, p, dom, rep, u, gz, send) {
			pending = true
		}
	}
	return pending
}

// lookup returns domain's TLSRPT record, nil when it has none that can
// be used (RFC 8460 3: the strings that are not TLSRPT records are
// discarded, and anything but one record left is as none). The error is
// a lookup that failed for now.
func (r *Reporter) lookup(ctx context.Context, domain string) (*Record, error) {
	name := RecordName(domain)
	txts, err := r.resolver.LookupTXT(ctx, name)
	if pdns.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(t, version) {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		if len(found) > 1 {
			r.log.InfoContext(ctx, "TLS report not sent: more than one TLSRPT record", "name", name)
		}
		return nil, nil
	}
	rec, err := ParseRecord(found[0])
	if err != nil {
		r.log.InfoContext(ctx, "TLS report not sent: bad TLSRPT record", "name", name, "err", err)
		return nil, nil
	}
	return rec, nil
}
