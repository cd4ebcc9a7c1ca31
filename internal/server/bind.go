package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"

	"postern/internal/procnet"
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

// Request is every socket the server opens before it gives up root.
type Request struct {
	SMTP   []Spec // the [[listener]] tables
	Admin  string // [admin] address; "" for none
	MTASTS string // [mta_sts] listen when the policy is served; "" for none
	Socket string // [local] socket; "" for none
}

// Bound is what the server listens on.
type Bound struct {
	TCP    []Listener   // one per listener asked for, in order
	Local  *Listener    // local submission; nil when off or when it could not be opened
	Admin  net.Listener // the admin listener; nil when off
	MTASTS net.Listener // the MTA-STS policy's HTTPS; nil when off
	Own    []netip.Addr
}

// All lists every SMTP listener, local submission first.
func (b *Bound) All() []Listener {
	var out []Listener
	if b.Local != nil {
		out = append(out, *b.Local)
	}
	return append(out, b.TCP...)
}

// Close closes every listener opened.
func (b *Bound) Close() {
	for _, l := range b.All() {
		l.Close()
	}
	for _, l := range []net.Listener{b.Admin, b.MTASTS} {
		if l != nil {
			l.Close()
		}
	}
}

// Bind opens the TCP listeners (every one, or none and the error: a
// *ListenError that names the address, who holds it and what to change)
// and then, when a socket is asked for, the local submission socket
// (submit.Listen, given to runAs). A local socket that cannot be opened
// is logged and left out: mail from the network still flows, and
// sendmail says that the server is not reachable. Own is every address
// the SMTP listeners answer on.
func Bind(req Request, runAs *Account, log *slog.Logger) (*Bound, error) {
	b := &Bound{}
	if err := b.bindTCP(req); err != nil {
		b.Close()
		return nil, err
	}
	if req.Socket != "" {
		uid, gid := -1, -1
		if runAs != nil {
			uid, gid = runAs.UID, runAs.GID
		}
		ln, err := submit.Listen(req.Socket, uid, gid)
		if err != nil {
			log.Error("local submission off", "socket", req.Socket, "err", err)
		} else {
			b.Local = &Listener{Listener: ln, Name: "local", Mode: smtpd.ModeLocal}
		}
	}
	return b, nil
}

// bindTCP opens the SMTP, admin and MTA-STS listeners, in that order,
// up to the first that fails.
func (b *Bound) bindTCP(req Request) error {
	const proc = procnet.Proc("/proc")
	for _, l := range req.SMTP {
		ln, err := Listen(proc, fmt.Sprintf("[[listener]] %q address", l.Name), l.Address, "or stop the other server")
		if err != nil {
			return err
		}
		b.TCP = append(b.TCP, Listener{Listener: ln, Name: l.Name, Mode: l.Mode})
		b.Own = append(b.Own, ListenAddrs(ln)...)
	}
	var err error
	if req.Admin != "" {
		if b.Admin, err = Listen(proc, "[admin] address", req.Admin, `or address = "" for no admin listener (no console, metrics or postern status)`); err != nil {
			return err
		}
	}
	if req.MTASTS != "" {
		if b.MTASTS, err = Listen(proc, "[mta_sts] listen", req.MTASTS, ""); err != nil {
			return err
		}
	}
	return nil
}
