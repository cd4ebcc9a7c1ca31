package audit

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"postern/internal/smtp"
)

// softwareInBanner matches MTA names and version numbers in a greeting.
var softwareInBanner = regexp.MustCompile(`(?i)\b(postfix|sendmail|exim|qmail|exchange|microsoft|courier|haraka|opensmtpd|zimbra|mdaemon|hmailserver|kerio|coremail)\b|\b\d+\.\d+(\.\d+)+\b`)

// bannerSoftware returns the first software name or version number in a
// greeting, ignoring IPv4 addresses (which look like version numbers).
func bannerSoftware(banner string) string {
	for _, m := range softwareInBanner.FindAllString(banner, -1) {
		if ip := net.ParseIP(m); ip == nil {
			return m
		}
	}
	return ""
}

// checkBanner looks at the 220 greeting for software names and versions.
func (t *target) checkBanner(ctx context.Context, r *Report) {
	c := Check{ID: "smtp.banner", Category: "smtp", Title: "Banner does not reveal software or version",
		Evidence: []string{"S: 220 " + strings.ReplaceAll(t.banner, "\n", " / ")}}
	if m := bannerSoftware(t.banner); m != "" {
		c.Status = Warn
		c.Detail = "The greeting names the software or its version (" + strconv.Quote(m) + "), which tells an attacker which exploits to try."
		c.Fix = "Show only the host name: Postfix smtpd_banner = $myhostname ESMTP; sendmail define(`confSMTP_LOGIN_MSG', `$j'); postern does this already."
	} else {
		c.Status = Pass
		c.Detail = "The greeting shows no software name or version."
	}
	r.add(c)
}

// checkSession tries VRFY and EXPN, which let anyone harvest addresses.
func (t *target) checkSession(ctx context.Context, r *Report) {
	var tr []string
	c, err := t.session(ctx, t.port, &tr)
	if err != nil {
		r.add(Check{ID: "smtp.vrfy", Category: "smtp", Title: "VRFY does not confirm addresses", Status: Skip,
			Detail: "Could not open a session: " + err.Error(), Evidence: tr})
		return
	}
	defer c.quit()
	probe := t.userToVerify()

	start := len(tr)
	vrfy := Check{ID: "smtp.vrfy", Category: "smtp", Title: "VRFY does not confirm addresses"}
	rep, err := c.cmd("VRFY " + probe)
	var bogus *smtpReply
	if err == nil && rep.Code/100 == 2 {
		// A server that answers 252 for a real address but 550 for a
		// made-up one still tells them apart.
		b, berr := c.cmd("VRFY no-such-user-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36))
		if berr == nil {
			bogus = b
		}
	}
	switch {
	case err != nil:
		vrfy.Status, vrfy.Detail = Skip, "VRFY got no answer: "+err.Error()
	// RFC 5321 3.5.3: 250/251 confirm the address; 252 answers without
	// confirming, which is what a hardened server does.
	case rep.Code == 250 || rep.Code == 251:
		vrfy.Status = Warn
		vrfy.Detail = "VRFY confirms addresses, so anyone can test which mailboxes exist."
		vrfy.Fix = vrfyFix
	case bogus != nil && (bogus.Code == 550 || bogus.Code == 551 || bogus.Code == 553):
		vrfy.Status = Warn
		vrfy.Detail = "VRFY answers " + strconv.Itoa(rep.Code) + " for an existing address but " + strconv.Itoa(bogus.Code) + " for a made-up one, so anyone can test which mailboxes exist."
		vrfy.Fix = vrfyFix
	default:
		vrfy.Status = Pass
		vrfy.Detail = "VRFY does not confirm addresses (" + strconv.Itoa(rep.Code) + ")."
	}
	vrfy.Evidence = append([]string(nil), tr[start:]...)
	r.add(vrfy)

	start = len(tr)
	expn := Check{ID: "smtp.expn", Category: "smtp", Title: "EXPN does not expand lists"}
	rep, err = c.cmd("EXPN " + probe)
	switch {
	case err != nil:
		expn.Status, expn.Detail = Skip, "EXPN got no answer: "+err.Error()
	case rep.Code == 250:
		expn.Status = Warn
		expn.Detail = "EXPN expands aliases and lists, revealing their members."
		expn.Fix = "Disable it: sendmail confPRIVACY_FLAGS with noexpn (or goaway); Postfix does not implement EXPN."
	default:
		expn.Status = Pass
		expn.Detail = "EXPN is refused (" + strconv.Itoa(rep.Code) + ")."
	}
	expn.Evidence = append([]string(nil), tr[start:]...)
	r.add(expn)
}

const vrfyFix = "Disable it: Postfix disable_vrfy_command = yes; sendmail confPRIVACY_FLAGS with novrfy (or goaway)."

type smtpReply = smtp.Reply

func (t *target) userToVerify() string {
	if t.opt.SmugglingRcpt != "" {
		return t.opt.SmugglingRcpt
	}
	return "postmaster"
}
