package smtp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxVerbLen bounds the command verb; the longest standard one is STARTTLS.
const maxVerbLen = 16

// ParseCommand splits one command line (without its CRLF) into the
// upper-cased verb and the raw argument after the first space. It rejects
// NUL, CR, LF and every other control byte, and invalid UTF-8.
func ParseCommand(line []byte) (verb, arg string, r *Reply) {
	for _, c := range line {
		// RFC 5321 2.3.8: CR and LF occur only together, as the line end;
		// no other control character belongs in a command.
		if c < 0x20 || c == 0x7f {
			return "", "", ReplySyntax.With(fmt.Errorf("control byte 0x%02X in command line", c))
		}
	}
	if !utf8.Valid(line) {
		return "", "", ReplySyntax.With(errors.New("invalid UTF-8 in command line"))
	}
	v, a, _ := strings.Cut(string(line), " ")
	if v == "" {
		return "", "", ReplySyntax.With(errors.New("empty command verb"))
	}
	if len(v) > maxVerbLen {
		return "", "", ReplySyntax.With(errors.New("command verb too long"))
	}
	for i := 0; i < len(v); i++ {
		// RFC 5321 4.1.2: verbs are letters and digits (and "-" in extensions).
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", "", ReplySyntax.With(fmt.Errorf("bad character %q in command verb", c))
		}
	}
	return strings.ToUpper(v), a, nil
}

// ParseBDAT parses the argument of BDAT (RFC 3030 2): a chunk size made of
// digits only, optionally followed by " LAST" (any case), nothing else.
func ParseBDAT(arg string) (size int64, last bool, r *Reply) {
	num, rest, hasRest := strings.Cut(arg, " ")
	if hasRest {
		if !strings.EqualFold(rest, "LAST") {
			return 0, false, ReplyArgSyntax.With(fmt.Errorf("BDAT: unexpected %q after size", rest))
		}
		last = true
	}
	n, err := parseDigits(num)
	if err != nil {
		return 0, false, ReplyArgSyntax.With(fmt.Errorf("BDAT: %w", err))
	}
	return n, last, nil
}
