package tlsrpt

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/textproto"
	"time"
)

// report builds a domain's report of period p (RFC 8460 4.4).
func (r *Reporter) report(p period, dom string, results []*PolicyResult) *Report {
	rep := &Report{
		OrganizationName: r.opt.OrgName,
		// RFC 8460 4.4's example: a day from 00:00:00Z to 23:59:59Z.
		DateRange:   DateRange{Start: p.begin.UTC(), End: p.end.Add(-time.Second).UTC()},
		ContactInfo: r.opt.ContactInfo,
		ReportID:    r.reportID(p, dom),
	}
	for _, pr := range results {
		rep.Policies = append(rep.Policies, *pr)
	}
	return rep
}

// reportID is the report-id and the Report-ID of the subject: made of the
// day, the policy domain and the submitter only, so that a report built
// again (after a crash between sending it and recording that it was
// sent) has the same ID and its reader drops the copy. It has the form
// of a msg-id, as RFC 8460 5.3's subject wants.
func (r *Reporter) reportID(p period, dom string) string {
	return fmt.Sprintf("%d.%s@%s", p.begin.Unix(), dom, r.opt.Submitter)
}

// fileName is the report's file name (RFC 8460 5.1):
// submitter!policy-domain!begin!end!unique-id.json.gz.
func (r *Reporter) fileName(p period, rep *Report, dom string) string {
	return fmt.Sprintf("%s!%s!%d!%d!%s.json.gz", r.opt.Submitter, dom, p.begin.Unix(), p.end.Unix()-1, digest(rep.ReportID)[:16])
}

// sendOne sends the report to one destination unless it went there
// before, and reports whether that destination is done with.
func (r *Reporter) sendOne(ctx context.Context, p period, dom string, rep *Report, u URI, gz []byte, send func(context.Context, Mail) error) bool {
	key := p.sentKey(dom, u.Raw)
	if sent, err := r.claims.Claimed(ctx, key); err != nil || sent {
		return sent
	}
	if until, ok := r.retry[key]; ok && r.opt.Now().Before(until) {
		return false
	}
	var err error
	switch {
	case u.Mailbox != "":
		var data []byte
		if data, err = r.signed(ctx, r.compose(rep, dom, u.Mailbox, r.fileName(p, rep, dom), gz)); err == nil {
			err = send(ctx, Mail{From: r.opt.From, To: u.Mailbox, PolicyDomain: dom, ReportID: rep.ReportID, Data: data})
		}
	case u.URL != "" && r.opt.HTTPClient != nil:
		if err = r.post(ctx, u.URL, gz); err != nil {
			r.retry[key] = r.opt.Now().Add(retryAfter)
		}
	default:
		// RFC 8460 3 names mailto: and https:; nothing else is sent.
		r.log.InfoContext(ctx, "TLS report destination not supported", "domain", dom, "rua", u.Raw)
		return true
	}
	if err != nil {
		r.log.WarnContext(ctx, "TLS report not sent; tried again later", "domain", dom, "rua", u.Raw, "report_id", rep.ReportID, "err", err)
		return false
	}
	if _, err := r.claims.Claim(ctx, key); err != nil {
		// Sent but not recorded: it goes again, with the same ID.
		r.log.ErrorContext(ctx, "TLS report sent but not recorded as sent", "domain", dom, "rua", u.Raw, "err", err)
		return false
	}
	delete(r.retry, key)
	r.log.InfoContext(ctx, "TLS report sent", "domain", dom, "rua", u.Raw, "report_id", rep.ReportID, "bytes", len(gz))
	return true
}

// compose builds the report message of RFC 8460 5.3: multipart/report
// with report-type "tlsrpt", a text/plain part and the compressed report
// as an application/tlsrpt+gzip attachment.
func (r *Reporter) compose(rep *Report, dom, rcpt, filename string, gz []byte) []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	text, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=us-ascii"},
		"Content-Transfer-Encoding": {"7bit"},
	})
	fmt.Fprintf(text, "This is an aggregate TLS report (RFC 8460) for %s from %s,\r\ncovering %s to %s (UTC).\r\n",
		dom, r.opt.Submitter, rep.DateRange.Start.Format(time.DateTime), rep.DateRange.End.Format(time.DateTime))
	att, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"application/tlsrpt+gzip"},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": filename})},
	})
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 0 {
		n := min(76, len(enc))
		io.WriteString(att, enc[:n]+"\r\n")
		enc = enc[n:]
	}
	mw.Close()

	var msg bytes.Buffer
	for _, f := range [][2]string{
		{"From", (&mail.Address{Address: r.opt.From}).String()},
		{"To", (&mail.Address{Address: rcpt}).String()},
		{"Subject", fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", dom, r.opt.Submitter, rep.ReportID)},
		{"Date", r.opt.Now().UTC().Format(time.RFC1123Z)},
		// The same report to the same mailbox has the same Message-ID.
		{"Message-ID", "<" + digest(rep.ReportID, rcpt) + "." + rep.ReportID + ">"},
		{"TLS-Report-Domain", dom},
		{"TLS-Report-Submitter", r.opt.Submitter},
		{"Auto-Submitted", "auto-generated"},
		{"MIME-Version", "1.0"},
		{"Content-Type", mime.FormatMediaType("multipart/report", map[string]string{"report-type": "tlsrpt", "boundary": mw.Boundary()})},
	} {
		msg.WriteString(f[0] + ": " + f[1] + "\r\n")
	}
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes()
}

// signed prepends the DKIM signature of the submitter's domain to msg,
// when there is a Signer.
func (r *Reporter) signed(ctx context.Context, msg []byte) ([]byte, error) {
	if r.opt.Signer == nil {
		return msg, nil
	}
	sig, err := r.opt.Signer.Sign(ctx, r.opt.Submitter, bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("the DKIM key of %s cannot be used: %w", r.opt.Submitter, err)
	}
	return append([]byte(sig), msg...), nil
}

// postTimeout bounds one HTTPS submission.
const postTimeout = time.Minute

// post submits the report to an https: destination (RFC 8460 5.4): a
// POST of the compressed report; any 2xx answer is success.
func (r *Reporter) post(ctx context.Context, url string, gz []byte) error {
	ctx, cancel := context.WithTimeout(ctx, postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(gz))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	resp, err := r.opt.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}

// PublicOnly refuses the addresses a report must not be posted to: an
// https: rua is chosen by the domain that publishes it, and must not
// reach this host or its private networks. It fits mtasts.Dialer's
// Allow.
func PublicOnly(host string, ip net.IP) error {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return fmt.Errorf("%s has the address %s, which is not public: no TLS report is posted there", host, ip)
	}
	return nil
}
