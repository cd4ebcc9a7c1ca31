package alert

import (
	"context"
	"fmt"
	"mime"
	"strings"
	"time"

	"postern/internal/envelope"
)

// Notice is an alert about something other than outbound mail, such as
// a configuration or map change that was rejected. It goes through the
// same channels as a spike: the log, the webhook (this JSON) and the
// mail to the postmaster.
type Notice struct {
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	Kind    string    `json:"kind"` // e.g. "change-rejected"
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
}

// Notice raises a notice of kind with its subject and text. On a nil
// Detector (alerts off) it does nothing: the caller logs the event
// itself.
func (d *Detector) Notice(ctx context.Context, kind, subject, text string) {
	if d == nil {
		return
	}
	n := Notice{Time: d.opt.Now(), Host: d.opt.Hostname, Kind: kind, Subject: subject, Text: text}
	d.opt.Log.WarnContext(ctx, "alert", "kind", kind, "subject", subject)
	d.send(ctx, n, noticeText(n))
}

// send posts payload to the webhook and queues mail for the postmaster,
// in the background, as configured.
func (d *Detector) send(ctx context.Context, payload any, mail []byte) {
	if d.opt.Webhook == "" && d.opt.Notify == nil {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		// The session may end before the notices are out.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if d.opt.Webhook != "" {
			if err := postWebhook(nctx, d.opt.Client, d.opt.Webhook, payload); err != nil {
				d.opt.Log.Error("alert webhook failed", "url", redactURL(d.opt.Webhook), "err", err)
			}
		}
		if d.opt.Notify != nil {
			if err := d.opt.Notify(nctx, mail); err != nil {
				d.opt.Log.Error("alert mail to postmaster failed", "err", err)
			}
		}
	}()
}

// noticeText is the notice's mail to the postmaster: plain text, CRLF
// lines.
func noticeText(n Notice) []byte {
	host := n.Host
	if host == "" {
		host = "localhost"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: postern <MAILER-DAEMON@%s>\r\n", host)
	b.WriteString("To: postmaster\r\n")
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "[postern] "+n.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", n.Time.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.alert@%s>\r\n", envelope.NewID(n.Time), host)
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for _, l := range strings.Split(strings.TrimRight(n.Text, "\n"), "\n") {
		b.WriteString(l + "\r\n")
	}
	return []byte(b.String())
}
