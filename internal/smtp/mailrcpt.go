package smtp

import (
	"errors"
	"fmt"
	"strings"
)

// ParseMail parses the argument of MAIL (everything after the verb), e.g.
// "FROM:<a@b.example> SIZE=100 BODY=8BITMIME". UTF-8 in the path is allowed
// only when the command carries SMTPUTF8; opt.SMTPUTF8 is not consulted.
func ParseMail(arg string, opt ParseOptions) (Path, Params, *Reply) {
	raw, rest, r := splitCommandArg(arg, "FROM:")
	if r != nil {
		return Path{}, Params{}, r
	}
	params, r := parseParams(rest, mailParams, opt)
	if r != nil {
		return Path{}, Params{}, r
	}
	p, err := parsePath(raw, params.SMTPUTF8)
	if err != nil {
		return Path{}, Params{}, pathReply(ReplyBadSenderSyntax, err)
	}
	if p.IsPostmaster() {
		// RFC 5321 4.5.1: the bare <postmaster> form exists for RCPT only.
		return Path{}, Params{}, ReplyBadSenderSyntax.With(errors.New("<postmaster> without domain as sender"))
	}
	return p, params, nil
}

// ParseRcpt parses the argument of RCPT, e.g. "TO:<a@b.example> NOTIFY=NEVER".
// UTF-8 in the path is allowed when opt.SMTPUTF8 is set.
func ParseRcpt(arg string, opt ParseOptions) (Path, Params, *Reply) {
	raw, rest, r := splitCommandArg(arg, "TO:")
	if r != nil {
		return Path{}, Params{}, r
	}
	params, r := parseParams(rest, rcptParams, opt)
	if r != nil {
		return Path{}, Params{}, r
	}
	p, err := parsePath(raw, opt.SMTPUTF8)
	if err != nil {
		return Path{}, Params{}, pathReply(ReplyBadRcptSyntax, err)
	}
	if p.IsNull() {
		// RFC 5321 4.1.1.3: a forward-path is never null.
		return Path{}, Params{}, ReplyBadRcptSyntax.With(errors.New("null forward-path"))
	}
	return p, params, nil
}

// splitCommandArg checks the keyword ("FROM:" or "TO:", any case), allows
// one optional space after it, and splits the path from its parameters.
func splitCommandArg(arg, keyword string) (path, params string, r *Reply) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", "", ReplyArgSyntax.With(fmt.Errorf("expected %s", keyword))
	}
	s := arg[len(keyword):]
	// Lenient: "FROM: <a@b>" is common enough to accept one space.
	s = strings.TrimPrefix(s, " ")
	path, rest, err := splitPath(s)
	if err != nil {
		return "", "", ReplyArgSyntax.With(err)
	}
	// Trailing spaces are harmless; drop them.
	rest = strings.TrimRight(rest, " ")
	if rest == "" {
		return path, "", nil
	}
	// RFC 5321 4.1.1.2: parameters follow the path after a single space.
	if rest[0] != ' ' {
		return "", "", ReplyArgSyntax.With(errors.New("no space between path and parameters"))
	}
	return path, rest[1:], nil
}

func pathReply(base *Reply, err error) *Reply {
	if errors.Is(err, errNeedUTF8) {
		// RFC 6531 3.5: 553 with X.6.7, non-ASCII addresses not permitted.
		return ReplyNeedSMTPUTF8.With(err)
	}
	return base.With(err)
}
