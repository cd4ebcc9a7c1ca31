package config

import (
	"os/user"
	"path/filepath"
)

// Local is the [local] table: mail from programs on this host (cron,
// web applications, mail(1)) through `postern sendmail`, which talks to
// the running server over a unix socket instead of the network.
type Local struct {
	// Socket is the unix socket postern serve listens on for local
	// submission; "" turns local submission off. Its directory must be
	// reachable by every user who may send (the data dir is not: it is
	// 0700); serve creates it (0755, owned by the server's user) and the
	// socket (0666). Who connects is known from the kernel, not from
	// anything the client says.
	Socket string `toml:"socket"`
	// SenderCheck says what happens when a local user sets an envelope
	// sender (sendmail -f) that is not their own address:
	// "refuse" (550 5.7.1, the default) or "warn" (accepted with an
	// X-Authentication-Warning header, as sendmail does).
	SenderCheck string `toml:"sender_check"`
	// TrustedUsers may set any envelope sender (sendmail's trusted users,
	// confTRUSTED_USERS). root and the server's own user always may.
	TrustedUsers []string `toml:"trusted_users"`
}

// The [local] sender checks.
const (
	SenderRefuse = "refuse"
	SenderWarn   = "warn"
)

// DefaultLocalSocket is the socket of a configuration file without a
// [local] socket: under /run, where every local user can reach it.
const DefaultLocalSocket = "/run/postern/submit.sock"

// maxSocketPath is the room for a unix socket path (sun_path is 108
// bytes on Linux, with the terminating NUL).
const maxSocketPath = 107

func defaultLocal(socket string) Local {
	return Local{Socket: socket, SenderCheck: SenderRefuse}
}

// local validates [local]; a relative socket counts from base.
func (d *decoder) local(c *Config, base string) {
	l := &c.Local
	if l.Socket != "" {
		l.Socket = d.dir("local.socket", l.Socket, base, false)
		if len(l.Socket) > maxSocketPath {
			d.errorf("local.socket", "local.socket %q is %d bytes long; a unix socket path may have at most %d", l.Socket, len(l.Socket), maxSocketPath)
		}
		if l.Socket == filepath.Clean(c.DataDir) {
			d.errorf("local.socket", "local.socket is the data dir itself; name a file such as %s", filepath.Join(c.DataDir, "submit.sock"))
		}
	}
	switch l.SenderCheck {
	case SenderRefuse, SenderWarn:
	default:
		d.errorf("local.sender_check", "local.sender_check must be %q or %q, not %q", SenderRefuse, SenderWarn, l.SenderCheck)
	}
	for i, u := range l.TrustedUsers {
		p := indexPath("local.trusted_users", i)
		if u == "" {
			d.errorf(p, "local.trusted_users: an empty user name")
			continue
		}
		if _, err := user.Lookup(u); err != nil {
			d.warnf(p, "local.trusted_users: no user %q on this system", u)
		}
	}
}
