package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"postern/internal/envelope"
)

// postWebhook POSTs ev (an Event or a Notice) as JSON; any 2xx answer is
// success.
func postWebhook(ctx context.Context, c *http.Client, u string, ev any) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "postern-alert")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// redactURL drops the user info and query (they often hold tokens).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// noticeMail is the message to the postmaster: plain text, CRLF lines.
func noticeMail(ev Event, now time.Time) []byte {
	who := "the whole host"
	if ev.Scope == "user" {
		who = "user " + ev.User
	}
	var what string
	switch ev.Action {
	case "hold":
		what = "Their new outbound mail is held in the queue until " + ev.Until.Format(time.RFC1123Z) + "."
	case "refuse":
		what = "Their new outbound mail is refused (451) until " + ev.Until.Format(time.RFC1123Z) + "."
	default:
		what = "No action was taken (alert action = log)."
	}
	var b strings.Builder
	host := ev.Host
	if host == "" {
		host = "localhost"
	}
	fmt.Fprintf(&b, "From: postern <MAILER-DAEMON@%s>\r\n", host)
	fmt.Fprintf(&b, "To: postmaster\r\n")
	// RFC 2047: the subject may carry a non-ASCII address.
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "[postern] outbound mail spike: "+who))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.alert@%s>\r\n", envelope.NewID(now), host)
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, "%s sent %d outbound messages in the current %s window,\r\n", who, ev.Count, ev.Window)
	fmt.Fprintf(&b, "more than the limit of %.0f (average %.1f per window before).\r\n\r\n", ev.Limit, ev.Baseline)
	b.WriteString(what + "\r\n\r\n")
	if ev.Scope == "user" {
		b.WriteString("If the account is compromised:\r\n")
		fmt.Fprintf(&b, "  postern user suspend %s   (no login; their queued mail is held)\r\n", ev.User)
		fmt.Fprintf(&b, "  postern user revoke %s    (the password stops working at once)\r\n", ev.User)
		b.WriteString("See the incident playbook in docs/operations.md.\r\n")
	}
	return []byte(b.String())
}
