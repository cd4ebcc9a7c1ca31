package audit

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// relayProbe is one classic open-relay attempt: a sender and a recipient
// that a relay-safe server must not accept from a stranger.
type relayProbe struct {
	name string
	from string // MAIL FROM path, without brackets
	to   string // RCPT TO path, without brackets
	// ambiguous is true when the recipient's real (RFC 5321) domain is
	// local to the target and only its local part looks like a route
	// (percent hack, quoted address, bang path). Accepting it is not
	// proof of relaying, since the server may deliver it to a local
	// mailbox of that odd name or bounce it later, so it is a warning.
	ambiguous bool
}

// probesPerConnection keeps each connection short so that servers that
// slow down or hang up after some errors (Postfix's smtpd_soft_error_limit,
// postern's error limit) still answer every probe promptly.
const probesPerConnection = 5

// relayProbes builds the classic probe set. local is a domain of the
// target, foreign the test domain, ours our own address, theirs the
// target's address.
func relayProbes(local, foreign string, ours, theirs net.IP) []relayProbe {
	u := "relaytest"
	f := u + "@" + foreign
	l := u + "@" + local
	o := addrLiteral(ours)
	t := addrLiteral(theirs)
	// A domain that ends with the local domain's text but not on a label
	// boundary, and the local domain used as a label of a foreign one:
	// servers that compare strings instead of whole labels take them
	// for local.
	suffixTrick := "not" + strings.ReplaceAll(local, ".", "")
	if strings.Contains(local, ".") {
		suffixTrick = "not" + local
	}
	return []relayProbe{
		// Sender variations, each to a plain foreign recipient.
		{name: "foreign-sender", from: f, to: f},
		{name: "null-sender", from: "", to: f},
		{name: "spoofed-local-sender", from: l, to: f},
		{name: "postmaster-sender", from: "postmaster@" + local, to: f},
		{name: "own-ip-literal-sender", from: u + "@" + o, to: f},
		{name: "target-ip-literal-sender", from: u + "@" + t, to: f},
		// Recipient tricks, from a spoofed local sender.
		{name: "percent-hack", from: l, to: u + "%" + foreign + "@" + local, ambiguous: true},
		{name: "percent-hack-ip-literal", from: l, to: u + "%" + foreign + "@" + t, ambiguous: true},
		{name: "percent-unqualified", from: l, to: u + "%" + foreign, ambiguous: true},
		{name: "quoted-address", from: l, to: `"` + f + `"`, ambiguous: true},
		{name: "quoted-address-local", from: l, to: `"` + f + `"@` + local, ambiguous: true},
		{name: "quoted-percent-local", from: l, to: `"` + u + "%" + foreign + `"@` + local, ambiguous: true},
		{name: "double-at", from: l, to: f + "@" + local, ambiguous: true},
		{name: "double-at-ip-literal", from: l, to: f + "@" + t, ambiguous: true},
		// RFC 5321 4.1.1.3 and appendix C: a source route's real
		// destination is the final address, which is foreign here.
		{name: "source-route", from: l, to: "@" + local + ":" + f},
		{name: "source-route-ip-literal", from: l, to: "@" + t + ":" + f},
		{name: "bang-path", from: l, to: foreign + "!" + u, ambiguous: true},
		{name: "bang-path-local", from: l, to: foreign + "!" + u + "@" + local, ambiguous: true},
		{name: "bang-path-ip-literal", from: l, to: foreign + "!" + u + "@" + t, ambiguous: true},
		// RFC 5737: 192.0.2.0/24 is for documentation; the literal is
		// never contacted (no DATA is sent), it only has to be foreign.
		{name: "foreign-ip-literal", from: l, to: u + "@[192.0.2.1]"},
		{name: "label-suffix", from: l, to: u + "@" + suffixTrick},
		{name: "local-as-label", from: l, to: u + "@" + local + "." + foreign},
		{name: "trailing-dot", from: l, to: f + "."},
		{name: "upper-case", from: l, to: strings.ToUpper(f)},
	}
}

func addrLiteral(ip net.IP) string {
	if ip == nil {
		return "[127.0.0.1]"
	}
	if ip.To4() == nil {
		return "[IPv6:" + ip.String() + "]"
	}
	return "[" + ip.String() + "]"
}

// checkRelay runs every probe up to RCPT and never sends DATA: even an
// open relay therefore relays nothing.
func (t *target) checkRelay(ctx context.Context, r *Report) {
	chk := Check{ID: "relay.open", Category: "relay", Title: "Refuses to relay for strangers"}
	var tr []string
	c, err := t.runRelayProbes(ctx, &chk, &tr)
	if c != nil {
		defer c.quit() // after the verdict: the last QUIT is no evidence
	}
	chk.Evidence = tr
	if err != nil {
		chk.Status = Warn
		chk.Detail = "Could not open a session for the relay probes, so relaying was not tested: " + err.Error()
		chk.Fix = "Look at the evidence; run the audit again when the server accepts sessions from this address."
		r.add(chk)
		return
	}
	t.judgeRelay(&chk, tr)
	r.add(chk)
}

// runRelayProbes sends the probes, probesPerConnection to a session, into
// chk.Probes; tr gets the sessions' transcript. It fails only when not
// even the first session opens; a later session that fails leaves its
// probes skipped. It returns the session still open, if any.
func (t *target) runRelayProbes(ctx context.Context, chk *Check, tr *[]string) (*client, error) {
	local := t.domain
	if local == "" {
		local = "localhost"
	}
	var c *client
	var probes []relayProbe
	used := 0
	for i := 0; probes == nil || i < len(probes); i++ {
		if c == nil || used >= probesPerConnection {
			if c != nil {
				c.quit()
			}
			var err error
			if c, err = t.session(ctx, t.port, tr); err != nil {
				if probes == nil {
					return nil, err
				}
				// Judge what ran; the rest could not be sent.
				for _, p := range probes[i:] {
					chk.Probes = append(chk.Probes, Probe{Name: p.name, From: "<" + p.from + ">", To: "<" + p.to + ">",
						Result: "error", Reply: "no session: " + err.Error(), Verdict: Skip})
				}
				return nil, nil
			}
			used = 0
			if probes == nil {
				probes = relayProbes(local, t.opt.RelayTestDomain, c.localIP(), t.ip)
			}
		}
		if ctx.Err() != nil {
			break
		}
		res := runRelayProbe(c, probes[i])
		used++
		chk.Probes = append(chk.Probes, res)
		if res.Result == "error" {
			c.close()
			c = nil
		}
	}
	return c, nil
}

// judgeRelay sets chk's verdict from its probes' verdicts; tr is the
// transcript.
func (t *target) judgeRelay(chk *Check, tr []string) {
	var accepted, ambiguous, inconclusive []string
	for _, p := range chk.Probes {
		switch p.Verdict {
		case Fail:
			accepted = append(accepted, p.Name)
		case Warn:
			ambiguous = append(ambiguous, p.Name)
		case Skip:
			inconclusive = append(inconclusive, p.Name)
		}
	}
	switch {
	case len(accepted) > 0:
		chk.Status = Fail
		chk.Detail = fmt.Sprintf("OPEN RELAY: the server accepted mail for the foreign domain %s from this client in %d of %d probes: %s.",
			t.opt.RelayTestDomain, len(accepted), len(chk.Probes), strings.Join(accepted, ", "))
		chk.Fix = "Relay only for your own networks and authenticated users: Postfix mynetworks = 127.0.0.0/8 [::1]/128 with smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination; sendmail: remove FEATURE(`promiscuous_relay') and broad RELAY entries from access; postern refuses by default."
	case len(ambiguous) > 0:
		chk.Status = Warn
		chk.Detail = "No foreign recipient was accepted, but the server accepted local addresses carrying routing characters (" +
			strings.Join(ambiguous, ", ") + "). Check that they are delivered to a local mailbox or bounced, never routed off-site."
		chk.Fix = "Treat % and ! as ordinary characters and reject unknown local users at RCPT: Postfix allow_percent_hack = no, swap_bangpath = no and local_recipient_maps set; sendmail: keep FEATURE(`loose_relay_check') off; postern never routes on % or !."
	case len(inconclusive) == len(chk.Probes):
		// Not a pass: an audit that could not test relaying must not
		// let CI believe it did.
		chk.Status = Warn
		chk.Fix = "Look at the evidence: if the server refuses every sender from this address (a blocklist, a HELO or reverse DNS check), run the audit from an address it accepts."
		chk.Detail = "No probe reached RCPT (refused at MAIL FROM, or the connection failed), so relaying could not be tested."
	default:
		chk.Status = Pass
		chk.Detail = fmt.Sprintf("All %d relay probes were refused at RCPT.", len(chk.Probes)-len(inconclusive))
		if len(inconclusive) > 0 {
			chk.Detail += " Not tested (refused at MAIL FROM or connection errors): " + strings.Join(inconclusive, ", ") + "."
		}
	}
	if t.opt.From == nil && len(accepted) > 0 {
		chk.Detail += " Note: the probes came from " + sourceOf(tr) + "; if the server trusts that network, run again with -from set to an address it does not trust."
	}
}

func sourceOf(tr []string) string {
	for _, l := range tr {
		if strings.HasPrefix(l, "connected to ") {
			if i := strings.LastIndex(l, " from "); i >= 0 {
				return l[i+6:]
			}
		}
	}
	return "this host"
}

// runRelayProbe sends MAIL and RCPT, then RSET, and judges the RCPT reply.
func runRelayProbe(c *client, p relayProbe) Probe {
	res := Probe{Name: p.name, From: "<" + p.from + ">", To: "<" + p.to + ">"}
	defer func() {
		if res.Result != "error" {
			// RFC 5321 4.1.1.5: RSET clears the transaction between probes.
			if _, err := c.cmd("RSET"); err != nil {
				res.Result = "error"
			}
		}
	}()
	rep, err := c.cmd("MAIL FROM:" + res.From)
	if err != nil {
		res.Result, res.Reply, res.Verdict = "error", err.Error(), Skip
		return res
	}
	if rep.Code/100 != 2 {
		res.Result, res.Reply, res.Verdict = "sender-refused", replyLine(rep.Code, rep.Text), Skip
		return res
	}
	rep, err = c.cmd("RCPT TO:" + res.To)
	if err != nil {
		res.Result, res.Reply, res.Verdict = "error", err.Error(), Skip
		return res
	}
	res.Reply = replyLine(rep.Code, rep.Text)
	switch {
	case rep.Code/100 == 2:
		res.Result = "accepted"
		res.Verdict = Fail
		if p.ambiguous {
			res.Verdict = Warn
		}
	case rep.Code/100 == 4:
		res.Result, res.Verdict = "deferred", Pass
	default:
		res.Result, res.Verdict = "refused", Pass
	}
	return res
}

func replyLine(code int, text string) string {
	return strconv.Itoa(code) + " " + strings.ReplaceAll(text, "\n", " / ")
}
