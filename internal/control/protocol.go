// Package control is the control channel between the postern commands an
// admin runs (postern queue flush|requeue|hold|release|remove|bounce) and the
// running server, which holds the queue's lock.
//
// The channel is a unix stream socket, data_dir/control.sock, mode 0600
// and owned by the user the server runs as, in the data directory (0700).
// The file mode keeps everyone else out; in addition the server reads
// each peer's credentials (SO_PEERCRED) and serves only root and its own
// user.
//
// The protocol is one request and one reply per connection, each a
// single line ending in LF:
//
//	request = verb [ " " queue-id ] LF        ; at most 512 bytes
//	verb    = "flush" / "requeue" / "hold" / "release" / "remove" / "bounce" / "list"
//	reply   = ( "ok" / "err" ) [ " " text ] LF
//
// flush without an id flushes the whole queue (a queue run), requeue
// without one requeues it; every other verb except list needs an id (letters, digits, '-' and '_', at most 64).
// The text of "ok" is a short report ("flushed 3 message(s)"); for list
// it is the queue as a JSON array. The text of "err" is the reason, for
// the admin. The server closes the connection after its reply.
package control

import (
	"errors"
	"fmt"
	"strings"
)

// MaxRequest is the longest request line, LF included.
const MaxRequest = 512

// Verbs of the protocol.
const (
	VerbFlush   = "flush"
	VerbRequeue = "requeue"
	VerbHold    = "hold"
	VerbRelease = "release"
	VerbRemove  = "remove"
	VerbBounce  = "bounce"
	VerbList    = "list"
)

// Request is one parsed request.
type Request struct {
	Verb string
	ID   string // "" only for flush and requeue (the whole queue) and list
}

// String renders the request line without its LF.
func (r Request) String() string {
	if r.ID == "" {
		return r.Verb
	}
	return r.Verb + " " + r.ID
}

// ParseRequest parses a request line (with or without its line ending).
func ParseRequest(line string) (Request, error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if len(line)+1 > MaxRequest {
		return Request{}, errors.New("request too long")
	}
	if strings.ContainsAny(line, "\r\n") {
		return Request{}, errors.New("request is not one line")
	}
	verb, id, hasID := strings.Cut(line, " ")
	r := Request{Verb: verb, ID: id}
	switch verb {
	case VerbFlush, VerbRequeue:
	case VerbHold, VerbRelease, VerbRemove, VerbBounce:
		if !hasID {
			return Request{}, fmt.Errorf("%s needs a queue id", verb)
		}
	case VerbList:
		if hasID {
			return Request{}, errors.New("list takes no argument")
		}
	default:
		return Request{}, fmt.Errorf("unknown request %q", clip(verb))
	}
	if hasID && !ValidID(id) {
		return Request{}, fmt.Errorf("%q is not a queue id", clip(id))
	}
	return r, nil
}

// ValidID reports whether id can be a queue id: letters, digits, '-' and
// '_', 1 to 64 of them.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Reply is a parsed reply.
type Reply struct {
	OK   bool
	Text string
}

// ParseReply parses a reply line.
func ParseReply(line string) (Reply, error) {
	line = strings.TrimSuffix(line, "\n")
	status, text, _ := strings.Cut(line, " ")
	switch status {
	case "ok":
		return Reply{OK: true, Text: text}, nil
	case "err":
		return Reply{Text: text}, nil
	}
	return Reply{}, fmt.Errorf("malformed reply %q", clip(line))
}

// formatReply renders a reply line; the text is kept on its line.
func formatReply(ok bool, text string) string {
	status := "err"
	if ok {
		status = "ok"
	}
	text = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, text)
	if text == "" {
		return status + "\n"
	}
	return status + " " + text + "\n"
}

// clip shortens what is echoed in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
