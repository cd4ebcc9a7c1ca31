package smtpclient

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"postern/internal/smtp"
)

// Bounds on what a server may send in one reply.
const (
	// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with CRLF;
	// some servers send longer lines, so allow a generous multiple.
	maxReplyLine  = 4096
	maxReplyLines = 100
)

// ErrProtocol marks replies that are not SMTP (a garbled or hostile peer).
var ErrProtocol = errors.New("smtp protocol error")

// ReadReply reads one reply, multi-line or not (RFC 5321 4.2.1), and
// returns it as a *smtp.Reply with the server's text and, when the first
// line starts with one, the RFC 3463 enhanced status code split off every
// line. A malformed reply is an error wrapping ErrProtocol.
func ReadReply(r *bufio.Reader) (*smtp.Reply, error) {
	var lines []string
	code := 0
	for n := 0; ; n++ {
		if n >= maxReplyLines {
			return nil, fmt.Errorf("%w: reply has more than %d lines", ErrProtocol, maxReplyLines)
		}
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		// RFC 5321 4.2: Reply-code [ SP / "-" textstring ] CRLF.
		if len(line) < 3 || len(line) > 3 && line[3] != ' ' && line[3] != '-' {
			return nil, fmt.Errorf("%w: malformed reply line %q", ErrProtocol, clip(line))
		}
		k, err := strconv.Atoi(line[:3])
		if err != nil || k < 200 || k > 599 || line[0] == '+' {
			return nil, fmt.Errorf("%w: bad reply code in %q", ErrProtocol, clip(line))
		}
		if code != 0 && k != code {
			return nil, fmt.Errorf("%w: reply code changed within a reply: %q", ErrProtocol, clip(line))
		}
		code = k
		text := ""
		if len(line) > 4 {
			text = line[4:]
		}
		lines = append(lines, text)
		if len(line) == 3 || line[3] == ' ' {
			break
		}
	}
	rep := &smtp.Reply{Code: code}
	// RFC 2034 4: the enhanced status code starts the text of each line.
	if f, _, _ := strings.Cut(lines[0], " "); isEnhanced(f, code) {
		rep.Enhanced = f
		for i, l := range lines {
			if strings.HasPrefix(l, f) {
				lines[i] = strings.TrimPrefix(strings.TrimPrefix(l, f), " ")
			}
		}
	}
	rep.Text = strings.Join(lines, "\n")
	return rep, nil
}

// isEnhanced reports whether s is an RFC 3463 status code whose class
// matches the reply code.
func isEnhanced(s string, code int) bool {
	p := strings.Split(s, ".")
	if len(p) != 3 || len(p[0]) != 1 || p[0][0] != byte('0'+code/100) {
		return false
	}
	for _, x := range p[1:] {
		if len(x) == 0 || len(x) > 3 {
			return false
		}
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return false
			}
		}
	}
	return true
}

// readLine reads one line, without its line ending, refusing overlong
// lines and control characters other than tab.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxReplyLine {
			return "", fmt.Errorf("%w: reply line longer than %d octets", ErrProtocol, maxReplyLine)
		}
		if !isPrefix {
			break
		}
	}
	for i, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
