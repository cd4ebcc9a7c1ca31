package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"postern/internal/procnet"
)

// ListenError is a TCP address that could not be opened, with what the
// kernel said, who holds the port when that can be told, and what the
// administrator can change.
type ListenError struct {
	What    string // the setting, as the configuration names it: "[admin] address"
	Address string
	Fix     string // the setting's other values: `or address = "" for none`
	Err     error
	// Listening: something listens there; Holders: which processes,
	// when their descriptors could be read (as root).
	Listening bool
	Holders   []procnet.Process
}

func (e *ListenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s cannot be opened: ", e.What, e.Address)
	switch {
	case errors.Is(e.Err, syscall.EADDRINUSE):
		b.WriteString("the address is already in use")
		switch {
		case len(e.Holders) > 0:
			var who []string
			for _, p := range e.Holders {
				who = append(who, p.String())
			}
			b.WriteString(" by " + strings.Join(who, ", "))
		case e.Listening:
			b.WriteString(" by another process (which one cannot be told without root: ss -ltnp)")
		}
	case errors.Is(e.Err, syscall.EACCES):
		b.WriteString("permission denied")
		if _, port, err := net.SplitHostPort(e.Address); err == nil {
			if n, _ := strconv.Atoi(port); n < 1024 {
				b.WriteString(" (a port below 1024 needs postern started as root, with the capability CAP_NET_BIND_SERVICE)")
			}
		}
	case errors.Is(e.Err, syscall.EADDRNOTAVAIL):
		b.WriteString("no interface of this host has that address")
	default:
		b.WriteString(e.Err.Error())
	}
	fmt.Fprintf(&b, "; set %s to a free address of this host", e.What)
	if e.Fix != "" {
		b.WriteString(", " + e.Fix)
	}
	return b.String()
}

func (e *ListenError) Unwrap() error { return e.Err }

// Listen opens a TCP listener on addr for the setting what; when it
// cannot, the error is a *ListenError that names the holder of the port
// (read from proc, normally "/proc").
func Listen(proc procnet.Proc, what, addr, fix string) (net.Listener, error) {
	// No TCP keep-alive on accepted connections: the SMTP timeouts end
	// idle sessions, and it saves four setsockopt calls per connection.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err == nil {
		return ln, nil
	}
	le := &ListenError{What: what, Address: addr, Fix: fix, Err: err}
	if errors.Is(err, syscall.EADDRINUSE) {
		le.Holders, le.Listening, _ = proc.Holder(addr)
	}
	return nil, le
}
