package procnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is a process that holds a socket.
type Process struct {
	PID  int
	Name string // its command name (/proc/PID/comm)
}

// String is "process 1234 (name)".
func (p Process) String() string {
	return "process " + strconv.Itoa(p.PID) + " (" + p.Name + ")"
}

// Proc is where the process file system is mounted: "/proc".
type Proc string

// Listeners are the listening sockets that take connections for addr
// (host:port) in the network namespace of the table read: the same
// port on the same address or on an address that covers every one
// (0.0.0.0, ::). pid 0 reads the caller's namespace.
func (root Proc) Listeners(pid int, addr string) ([]Socket, error) {
	want, err := resolve(addr)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(string(root), "net")
	if pid != 0 {
		dir = filepath.Join(string(root), strconv.Itoa(pid), "net")
	}
	var out []Socket
	var errs []error
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		socks, err := Parse(f)
		f.Close()
		if err != nil {
			errs = append(errs, err)
		}
		for _, s := range socks {
			if s.Listening() && covers(s.Local, want) {
				out = append(out, s)
			}
		}
	}
	return out, errors.Join(errs...)
}

// resolve reads host:port, with "" or no host for every address.
func resolve(addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, errors.New("port " + port + " is not a number")
	}
	ip := netip.IPv6Unspecified()
	if host != "" {
		if host == "localhost" {
			host = "127.0.0.1"
		}
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, err
		}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

// covers reports whether a socket listening on l takes the connections
// a listener on want would.
func covers(l, want netip.AddrPort) bool {
	if l.Port() != want.Port() {
		return false
	}
	return l.Addr() == want.Addr() || l.Addr().IsUnspecified() || want.Addr().IsUnspecified()
}

// Holders are the processes that hold one of the sockets, by their
// file descriptors. Only the processes whose descriptors the caller may
// read are found: all of them as root, its own user's otherwise.
func (root Proc) Holders(socks []Socket) []Process {
	want := links(socks)
	if len(want) == 0 {
		return nil
	}
	ents, _ := os.ReadDir(string(root))
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if root.holds(pid, want) {
			comm, _ := os.ReadFile(filepath.Join(string(root), e.Name(), "comm"))
			out = append(out, Process{PID: pid, Name: strings.TrimSpace(string(comm))})
		}
	}
	return out
}

// holds reports whether process pid has one of the sockets in want open.
func (root Proc) holds(pid int, want map[string]bool) bool {
	dir := filepath.Join(string(root), strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && want[l] {
			return true
		}
	}
	return false
}

// Holder is who listens on addr in the caller's network namespace: the
// processes found (none when their descriptors cannot be read) and
// whether any socket listens there at all.
func (root Proc) Holder(addr string) (procs []Process, listening bool, err error) {
	socks, err := root.Listeners(0, addr)
	if len(socks) == 0 {
		return nil, false, err
	}
	return root.Holders(socks), true, err
}

// HeldBy reports whether process pid itself listens on addr (in its own
// network namespace).
func (root Proc) HeldBy(pid int, addr string) (bool, error) {
	socks, err := root.Listeners(pid, addr)
	if err != nil && len(socks) == 0 {
		return false, err
	}
	want := links(socks)
	return len(want) > 0 && root.holds(pid, want), nil
}

// links are the sockets as a process's descriptors name them:
// "socket:[inode]".
func links(socks []Socket) map[string]bool {
	want := map[string]bool{}
	for _, s := range socks {
		if s.Inode != 0 {
			want["socket:["+strconv.FormatUint(s.Inode, 10)+"]"] = true
		}
	}
	return want
}
