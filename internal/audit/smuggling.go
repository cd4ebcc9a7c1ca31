package audit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// lookalikeEndings are byte sequences that some servers take for the end
// of DATA although only CR LF . CR LF is (RFC 5321 4.1.1.4). A sender
// that passes one through lets an attacker smuggle a second message.
var lookalikeEndings = []struct{ name, seq string }{
	{"LF.LF", "\n.\n"},
	{"LF.CRLF", "\n.\r\n"},
	{"CRLF.LF", "\r\n.\n"},
	{"CR.CR", "\r.\r"},
	{"CR.LF", "\r.\n"},
	{"LF.CR", "\n.\r"},
	{"CR.CRLF", "\r.\r\n"},
	{"CRLF.CR", "\r\n.\r"},
	{"CRLF-NUL.CRLF", "\r\n\x00.\r\n"},
	{"CRLF.NUL-CRLF", "\r\n.\x00\r\n"},
}

// smugglingWait is how long we wait for a reply after a lookalike ending
// before concluding that the server still reads the message body.
const smugglingWait = 2 * time.Second

// checkSmuggling sends, for each lookalike ending, one real message to
// SmugglingRcpt whose body holds the ending followed by a NOOP. A server
// that answers before the real end of DATA ended the message early.
func (t *target) checkSmuggling(ctx context.Context, r *Report) {
	c := Check{ID: "smtp.smuggling", Category: "smuggling", Title: "Only CRLF.CRLF ends DATA"}
	if !t.opt.Smuggling || t.opt.SmugglingRcpt == "" {
		c.Status = Skip
		c.Detail = "Not probed: the probe sends real messages; enable it with -smuggling and a local recipient."
		r.add(c)
		return
	}
	var early []string
	for _, e := range lookalikeEndings {
		if ctx.Err() != nil {
			break
		}
		p := t.smugglingProbe(ctx, e.name, e.seq, &c.Evidence)
		c.Probes = append(c.Probes, p)
		if p.Verdict == Fail {
			early = append(early, e.name)
		}
	}
	if len(early) > 0 {
		c.Status = Fail
		c.Detail = "The server ended DATA on lookalike endings (" + strings.Join(early, ", ") + "): text after them is read as new commands, so a sender can smuggle forged messages through it (CVE-2023-51764 class)."
		c.Fix = "Update the server; Postfix: smtpd_forbid_bare_newline = normalize (3.9) or yes; sendmail 8.18: srv_features o / O option; postern accepts only CRLF.CRLF."
	} else {
		c.Status = Pass
		c.Detail = fmt.Sprintf("None of the %d lookalike endings ended DATA.", len(c.Probes))
	}
	r.add(c)
}

func (t *target) smugglingProbe(ctx context.Context, name, seq string, ev *[]string) Probe {
	p := Probe{Name: name, To: "<" + t.opt.SmugglingRcpt + ">"}
	var tr []string
	defer func() { *ev = append(*ev, tr...) }()
	c, err := t.session(ctx, t.port, &tr)
	if err != nil {
		p.Result, p.Reply, p.Verdict = "error", err.Error(), Skip
		return p
	}
	defer c.close()
	for _, line := range []string{"MAIL FROM:<>", "RCPT TO:" + p.To, "DATA"} {
		rep, err := c.cmd(line)
		if err != nil {
			p.Result, p.Reply, p.Verdict = "error", err.Error(), Skip
			return p
		}
		if rep.Code/100 != 2 && !(line == "DATA" && rep.Code == 354) {
			p.Result, p.Reply, p.Verdict = "refused", replyLine(rep.Code, rep.Text), Skip
			return p
		}
	}
	body := "Subject: postern audit smuggling probe " + name + "\r\n\r\n" +
		"This message tests how the server ends DATA; it can be deleted.\r\n" +
		"probe" + seq + "NOOP\r\n"
	if err := c.raw(body); err != nil {
		p.Result, p.Reply, p.Verdict = "error", err.Error(), Skip
		return p
	}
	rep, err := c.replyWithin(smugglingWait)
	if err == nil {
		// A reply before the real terminator: the server took the
		// lookalike for the end of the message.
		p.Reply = replyLine(rep.Code, rep.Text)
		if rep.Code/100 == 2 {
			p.Result, p.Verdict = "ended-early", Fail
		} else {
			// Rejected at the lookalike: safe as long as the rest is
			// not taken as commands, which we cannot tell apart here.
			p.Result, p.Verdict = "rejected-at-lookalike", Pass
		}
		c.quit()
		return p
	}
	tr = append(tr, "(no reply within "+smugglingWait.String()+": the server still reads the body)")
	rep, err = c.cmd("\r\n.")
	if err != nil {
		p.Result, p.Reply, p.Verdict = "error", err.Error(), Skip
		return p
	}
	p.Reply = replyLine(rep.Code, rep.Text)
	if rep.Code/100 == 2 {
		p.Result = "kept-in-body"
	} else {
		p.Result = "rejected"
	}
	p.Verdict = Pass
	c.quit()
	return p
}
