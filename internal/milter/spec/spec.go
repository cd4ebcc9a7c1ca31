// Package spec parses the parts of a sendmail INPUT_MAIL_FILTER line that
// postern's [[milter]] tables take as they are: the socket (S=), the
// failure flags (F=) and the timeouts (T=). It imports nothing of postern,
// so that the configuration can validate with it.
package spec

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Socket is where a milter listens.
type Socket struct {
	Network string // "unix" or "tcp"
	Address string // a path, or "host:port"
}

func (s Socket) String() string {
	if s.Network == "unix" {
		return "unix:" + s.Address
	}
	return "inet:" + s.Address
}

// maxPath is the longest unix socket path (sun_path is 108 bytes with its NUL).
const maxPath = 107

// ParseSocket parses a milter socket as sendmail and Postfix write it:
//
//	unix:/run/opendkim/opendkim.sock   (also local:/path)
//	inet:8891@127.0.0.1                sendmail's port@host
//	inet:127.0.0.1:8891                Postfix's host:port
//	inet6:8891@[::1]                   (also inet6:[::1]:8891)
func ParseSocket(s string) (Socket, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		if strings.HasPrefix(s, "/") {
			return Socket{}, fmt.Errorf("milter socket %q: write unix:%s", s, s)
		}
		return Socket{}, fmt.Errorf("milter socket %q: expected unix:/path or inet:port@host", s)
	}
	switch strings.ToLower(kind) {
	case "unix", "local":
		if rest == "" || !strings.HasPrefix(rest, "/") {
			return Socket{}, fmt.Errorf("milter socket %q: the unix socket path must be absolute", s)
		}
		if len(rest) > maxPath {
			return Socket{}, fmt.Errorf("milter socket %q: the path is longer than %d bytes", s, maxPath)
		}
		if strings.ContainsRune(rest, 0) {
			return Socket{}, fmt.Errorf("milter socket %q: the path contains a NUL byte", s)
		}
		return Socket{Network: "unix", Address: rest}, nil
	case "inet", "inet6":
		host, port, err := splitInet(rest)
		if err != nil {
			return Socket{}, fmt.Errorf("milter socket %q: %v", s, err)
		}
		return Socket{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
	}
	return Socket{}, fmt.Errorf("milter socket %q: unknown kind %q (use unix or inet)", s, kind)
}

// splitInet accepts "port@host" and "host:port" and checks both halves.
func splitInet(s string) (host, port string, err error) {
	if p, h, ok := strings.Cut(s, "@"); ok {
		host, port = h, p
	} else {
		host, port, err = net.SplitHostPort(s)
		if err != nil {
			return "", "", errors.New("expected port@host or host:port")
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return "", "", errors.New("the host is missing")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", "", fmt.Errorf("host %q: zoned addresses are not supported", host)
		}
		return a.Unmap().String(), port, nil
	}
	if !validHostname(host) {
		return "", "", fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return strings.ToLower(host), port, nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// OnFailure is what happens to mail when a milter cannot be reached or
// breaks the protocol.
type OnFailure int

const (
	// Continue passes mail on as if the milter were not configured (no
	// F= flag: fail open).
	Continue OnFailure = iota
	// TempFail answers 4xx so that senders retry (F=T).
	TempFail
	// Reject answers 5xx (F=R).
	Reject
)

func (f OnFailure) String() string {
	switch f {
	case TempFail:
		return "tempfail"
	case Reject:
		return "reject"
	}
	return "continue"
}

// ParseFlags parses sendmail's F= value: "" (continue), "T" (tempfail) or
// "R" (reject). "F=" prefixes are allowed, to paste from a .mc file.
func ParseFlags(s string) (OnFailure, error) {
	v := strings.TrimSpace(s)
	if len(v) >= 2 && strings.EqualFold(v[:2], "F=") {
		v = strings.TrimSpace(v[2:])
	}
	switch v {
	case "":
		return Continue, nil
	case "T":
		return TempFail, nil
	case "R":
		return Reject, nil
	case "RT", "TR":
		return 0, fmt.Errorf("milter flags %q: choose one of R (reject) and T (tempfail)", s)
	}
	return 0, fmt.Errorf("milter flags %q: use \"T\" (tempfail when the milter is down), \"R\" (reject) or \"\" (continue)", s)
}

// Timeouts are sendmail's T= values.
type Timeouts struct {
	Connect time.Duration // C: connecting to the milter
	Send    time.Duration // S: writing one command
	Read    time.Duration // R: waiting for one reply
	End     time.Duration // E: waiting for the reply to the end of the message
}

// Defaults: sendmail's S, R and E; a short connect timeout, since a milter
// is a local service and a hung connect stalls every SMTP session.
var DefaultTimeouts = Timeouts{
	Connect: 10 * time.Second,
	Send:    10 * time.Second,
	Read:    10 * time.Second,
	End:     5 * time.Minute,
}

// maxTimeout bounds every timeout: an hour is more than any milter needs.
const maxTimeout = time.Hour

// ParseTimeouts parses sendmail's T= value, such as "C:2m;S:10s;R:10s;E:5m"
// (a "T=" prefix is allowed). Missing letters keep DefaultTimeouts. A
// number alone counts seconds; s, m and h are the units, as in sendmail.
func ParseTimeouts(s string) (Timeouts, error) {
	t := DefaultTimeouts
	v := strings.TrimSpace(s)
	if len(v) >= 2 && strings.EqualFold(v[:2], "T=") {
		v = strings.TrimSpace(v[2:])
	}
	if v == "" {
		return t, nil
	}
	seen := map[byte]bool{}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, ":")
		key = strings.TrimSpace(key)
		if !ok || len(key) != 1 {
			return Timeouts{}, fmt.Errorf("milter timeouts %q: %q is not LETTER:TIME (C, S, R or E)", s, part)
		}
		k := key[0] &^ 0x20 // upper case
		d, err := parseTime(strings.TrimSpace(val))
		if err != nil {
			return Timeouts{}, fmt.Errorf("milter timeouts %q: %s: %v", s, key, err)
		}
		if seen[k] {
			return Timeouts{}, fmt.Errorf("milter timeouts %q: %s is given twice", s, key)
		}
		seen[k] = true
		switch k {
		case 'C':
			t.Connect = d
		case 'S':
			t.Send = d
		case 'R':
			t.Read = d
		case 'E':
			t.End = d
		default:
			return Timeouts{}, fmt.Errorf("milter timeouts %q: unknown timeout %q (C, S, R or E)", s, key)
		}
	}
	return t, nil
}

// parseTime reads "10", "10s", "2m", "1h" or a combination ("1m30s").
func parseTime(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("the time is missing")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 {
			return 0, fmt.Errorf("%q is not a time such as 10s, 2m or 1h", s)
		}
		n, _ := strconv.Atoi(s[:i])
		unit := time.Second
		if i < len(s) {
			switch s[i] {
			case 's', 'S':
			case 'm', 'M':
				unit = time.Minute
			case 'h', 'H':
				unit = time.Hour
			default:
				return 0, fmt.Errorf("unknown unit %q (use s, m or h)", s[i:i+1])
			}
			i++
		}
		total += time.Duration(n) * unit
		if total > maxTimeout {
			return 0, fmt.Errorf("longer than %s", maxTimeout)
		}
		s = s[i:]
	}
	if total <= 0 {
		return 0, errors.New("a timeout must be positive")
	}
	return total, nil
}
