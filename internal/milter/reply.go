package milter

import (
	"fmt"
	"strconv"
	"strings"

	gomilter "github.com/emersion/go-milter"

	"postern/internal/milter/spec"
	"postern/internal/smtp"
)

// The replies for a milter's plain reject and tempfail, by stage. The
// words are sendmail's; the milter's own text comes with reply-code.
func rejectReply(stage string) *smtp.Reply {
	switch stage {
	case stageRcpt:
		return &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "recipient rejected"}
	case stageData:
		return &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "message rejected"}
	}
	return &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "command rejected"}
}

func tempfailReply() *smtp.Reply {
	return &smtp.Reply{Code: 451, Enhanced: "4.7.1", Text: "please try again later"}
}

// failureReply is the answer when a milter is down or broken, by its
// flags; nil means go on without it.
func failureReply(f spec.OnFailure) *smtp.Reply {
	switch f {
	case spec.TempFail:
		return &smtp.Reply{Code: 451, Enhanced: "4.3.2", Text: "mail filter unavailable, please try again later"}
	case spec.Reject:
		return &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "mail filter unavailable, command rejected"}
	}
	return nil
}

// maxReplyLines and maxReplyLine bound a milter's custom reply.
const (
	maxReplyLines = 10
	maxReplyLine  = 400
)

// customReply turns a milter's reply-code action (smfi_setreply,
// smfi_setmlreply) into a reply. RFC 5321 4.2: a refusal is 4xx or 5xx;
// RFC 3463 2: the enhanced code's class matches the reply's first digit.
func customReply(a *gomilter.Action) (*smtp.Reply, error) {
	code := a.SMTPCode
	if code < 400 || code > 599 {
		return nil, fmt.Errorf("reply code %d is not 4xx or 5xx", code)
	}
	class := strconv.Itoa(code / 100)
	text := strings.ReplaceAll(a.SMTPText, "\r\n", "\n")
	var lines []string
	enhanced := ""
	for i, l := range strings.Split(text, "\n") {
		if i > 0 {
			// Later lines of a multi-line reply repeat "550-" or "550 ".
			if len(l) >= 4 && l[:3] == strconv.Itoa(code) && (l[3] == '-' || l[3] == ' ') {
				l = l[4:]
			}
		}
		if e, rest, ok := strings.Cut(l, " "); ok && isEnhanced(e, class) {
			if enhanced == "" {
				enhanced = e
			}
			l = rest
		} else if isEnhanced(l, class) {
			if enhanced == "" {
				enhanced = l
			}
			l = ""
		}
		if len(l) > maxReplyLine {
			l = l[:maxReplyLine]
		}
		if len(lines) < maxReplyLines {
			lines = append(lines, l)
		}
	}
	if enhanced == "" {
		enhanced = class + ".7.1"
	}
	out := strings.TrimSpace(strings.Join(lines, "\n"))
	if out == "" {
		if code >= 500 {
			out = "command rejected"
		} else {
			out = "please try again later"
		}
	}
	return &smtp.Reply{Code: code, Enhanced: enhanced, Text: out}, nil
}

// isEnhanced reports whether s is an RFC 3463 status code of class.
func isEnhanced(s, class string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != class {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}
