package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"

	"postern/internal/smtpd"
	"postern/internal/submit"
)

// Account is the unprivileged user the server runs as when started as
// root.
type Account struct{ UID, GID int }

// RunAs resolves the configured user when the process runs as root (nil,
// nil otherwise). Root itself, or no user, is refused: postern never
// keeps root.
func RunAs(name string) (*Account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if name == "" {
		return nil, errors.New("refusing to run as root: set user in the configuration to an unprivileged account")
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, fmt.Errorf("user %q is root: choose an unprivileged account", name)
	}
	return &Account{uid, gid}, nil
}

// Spec is a TCP listener to open.
type Spec struct {
	Name    string
	Address string // host:port
	Mode    smtpd.Mode
}

// Bound is what the server listens on.
type Bound struct {
	TCP   []Listener // one per listener asked for, in order
	Local *Listener  // local submission; nil when off or when it could not be opened
	Own   []netip.Addr
}

// All lists every listener, local submission first.
func (b *Bound) All() []Listener {
	var out []Listener
	if b.Local != nil {
		out = append(out, *b.Local)
	}
	return append(out, b.TCP...)
}

// Bind opens the TCP listeners (every one, or none and the error) and,
// when socket is set, the local submission socket (submit.Listen, given
// to runAs). A local socket that cannot be opened is logged and left
// out: mail from the network still flows, and sendmail says that the
// server is not reachable. Own is every address the TCP listeners answer
// on.
func Bind(tcp []Spec, socket string, runAs *Account, log *slog.Logger) (*Bound, error) {
	b := &Bound{}
	// No TCP keep-alive on accepted connections: the SMTP timeouts end
	// idle sessions, and it saves four setsockopt calls per connection.
	lc := net.ListenConfig{KeepAlive: -1}
	for _, l := range tcp {
		ln, err := lc.Listen(context.Background(), "tcp", l.Address)
		if err != nil {
			for _, o := range b.TCP {
				o.Close()
			}
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		b.TCP = append(b.TCP, Listener{Listener: ln, Name: l.Name, Mode: l.Mode})
		b.Own = append(b.Own, ListenAddrs(ln)...)
	}
	if socket != "" {
		uid, gid := -1, -1
		if runAs != nil {
			uid, gid = runAs.UID, runAs.GID
		}
		ln, err := submit.Listen(socket, uid, gid)
		if err != nil {
			log.Error("local submission off", "socket", socket, "err", err)
		} else {
			b.Local = &Listener{Listener: ln, Name: "local", Mode: smtpd.ModeLocal}
		}
	}
	return b, nil
}
