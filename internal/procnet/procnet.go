// Package procnet reads the kernel's table of TCP sockets
// (/proc/net/tcp and /proc/net/tcp6) and the file descriptors of
// processes (/proc/PID/fd), to tell which process holds a listening
// port. It owns that format.
package procnet

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// StateListen is the state of a listening socket in the table (TCP_LISTEN).
const StateListen = 0x0A

// Socket is one line of /proc/net/tcp or /proc/net/tcp6.
type Socket struct {
	Local, Remote netip.AddrPort // IPv4-mapped IPv6 addresses are unmapped
	State         uint8
	UID           int
	Inode         uint64 // 0 for a socket no process holds (TIME_WAIT)
}

// Listening reports whether the socket is a listening one.
func (s Socket) Listening() bool { return s.State == StateListen }

// Parse reads a whole table: a header line, then one socket a line.
func Parse(r io.Reader) ([]Socket, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var out []Socket
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if strings.Contains(line, "local_address") {
				continue
			}
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		s, err := ParseLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// ParseLine reads one socket line:
//
//	0: 0100007F:2351 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 ...
func ParseLine(line string) (Socket, error) {
	f := strings.Fields(line)
	if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
		return Socket{}, fmt.Errorf("procnet: not a socket line: %q", line)
	}
	var s Socket
	var err error
	if s.Local, err = parseAddrPort(f[1]); err != nil {
		return Socket{}, err
	}
	if s.Remote, err = parseAddrPort(f[2]); err != nil {
		return Socket{}, err
	}
	st, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return Socket{}, fmt.Errorf("procnet: state %q: %w", f[3], err)
	}
	s.State = uint8(st)
	if s.UID, err = strconv.Atoi(f[7]); err != nil || s.UID < 0 {
		return Socket{}, fmt.Errorf("procnet: uid %q", f[7])
	}
	if s.Inode, err = strconv.ParseUint(f[9], 10, 64); err != nil {
		return Socket{}, fmt.Errorf("procnet: inode %q: %w", f[9], err)
	}
	return s, nil
}

// parseAddrPort reads "0100007F:2351": the address as the kernel holds
// it, printed 32 bits at a time in the machine's byte order, and the
// port in hex.
func parseAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || (len(a) != 8 && len(a) != 32) || len(p) != 4 {
		return netip.AddrPort{}, fmt.Errorf("procnet: address %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("procnet: address %q: %w", s, err)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("procnet: port %q: %w", s, err)
	}
	addr, ok := netip.AddrFromSlice(raw)
	if !ok {
		return netip.AddrPort{}, errors.New("procnet: address " + s)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}
