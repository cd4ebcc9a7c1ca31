package dsn

import (
	"errors"
	"strconv"
	"strings"

	"postern/internal/smtp"
)

// RemoteMTAError is implemented by delivery errors that know which server
// answered; its host name goes into Remote-MTA.
type RemoteMTAError interface {
	error
	RemoteMTA() string
}

// FromError describes a delivery error for a report: its status code,
// Diagnostic-Code value and the remote host, if known. Only the reply's
// words for the peer are used, never its internal cause (which may name
// local paths).
func FromError(err error, k Kind) (status, diagnostic, remote string) {
	if err == nil {
		return statusCode("", k), "", ""
	}
	var rm RemoteMTAError
	if errors.As(err, &rm) {
		remote = rm.RemoteMTA()
	}
	var r *smtp.Reply
	if !errors.As(err, &r) {
		if k == Failure {
			return "5.0.0", "X-Postern; delivery failed", remote
		}
		return "4.0.0", "X-Postern; temporary failure", remote
	}
	status = r.Enhanced
	if !ValidStatus(status) || status[0] != strconv.Itoa(r.Code / 100)[0] {
		status = strconv.Itoa(r.Code/100) + ".0.0"
	}
	// RFC 3464 2.3.6: Diagnostic-Code with diagnostic-type "smtp" is the
	// reply as received; lines of a multi-line reply are joined.
	text := strings.Join(strings.Fields(strings.ReplaceAll(r.Text, "\n", " ")), " ")
	diagnostic = "smtp; " + strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		diagnostic += " " + r.Enhanced
	}
	if text != "" {
		diagnostic += " " + text
	}
	return status, clean(diagnostic), clean(remote)
}
