package sendmail

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"postern/internal/smtp"
)

// Exit codes of sendmail (sysexits.h), which cron and mail(1) read.
const (
	ExUsage       = 64 // the command was used incorrectly
	ExDataErr     = 65 // the input data was incorrect
	ExNoUser      = 67 // addressee unknown
	ExUnavailable = 69 // service unavailable
	ExIOErr       = 74 // input/output error
	ExTempFail    = 75 // temporary failure; the user may retry
	ExNoPerm      = 77 // permission denied
	ExConfig      = 78 // configuration error
)

// replyExit prints what went wrong and picks the exit code.
func replyExit(errw io.Writer, what string, err error) int {
	fmt.Fprintf(errw, "postern sendmail: %s: %v\n", what, err)
	var rep *smtp.Reply
	if errors.As(err, &rep) {
		return ReplyCode(rep)
	}
	return ExTempFail
}

// ReplyCode maps an SMTP refusal to a sysexits code.
func ReplyCode(rep *smtp.Reply) int {
	switch {
	case rep.Code < 500:
		return ExTempFail
	case strings.HasPrefix(rep.Enhanced, "5.1."):
		return ExNoUser
	case strings.HasPrefix(rep.Enhanced, "5.7."):
		return ExNoPerm
	case strings.HasPrefix(rep.Enhanced, "5.6."), strings.HasPrefix(rep.Enhanced, "5.3.4"):
		return ExDataErr
	}
	return ExUnavailable
}
