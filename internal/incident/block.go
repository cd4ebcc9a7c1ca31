// Package incident holds the admin's tools for a bad day: blocking a
// client at once through the access map, refusing blocked clients, and
// backing up and restoring what a server needs to be rebuilt (config,
// maps, users, DKIM keys, certificates).
package incident

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"postern/internal/maps"
)

// BlockKey turns "192.0.2.1", "192.0.2.0/24", "2001:db8::1" or
// "2001:db8::/48" into the access map key that matches it, with the
// prefix it covers. Host bits set in a network are an error (a typo
// would block the wrong clients).
func BlockKey(target string) (string, netip.Prefix, error) {
	target = strings.TrimSpace(target)
	if strings.Contains(target, "/") {
		p, err := netip.ParsePrefix(target)
		if err != nil {
			return "", netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR network", target)
		}
		if p.Masked() != p {
			return "", netip.Prefix{}, fmt.Errorf("%s has host bits set: did you mean %s?", target, p.Masked())
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
		if p.Addr().Is6() {
			return "IPv6:" + p.String(), p, nil
		}
		return p.String(), p, nil
	}
	a, err := netip.ParseAddr(target)
	if err != nil || a.Zone() != "" {
		return "", netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR network", target)
	}
	a = a.Unmap()
	p := netip.PrefixFrom(a, a.BitLen())
	if a.Is6() {
		return "IPv6:" + a.String(), p, nil
	}
	return a.String(), p, nil
}

// ErrAlreadyBlocked is returned by Block when the key is already in the map.
var ErrAlreadyBlocked = errors.New("already in the access map")

// Block appends "Connect:KEY REJECT" to the access map at path (created
// 0644 if missing), with a comment holding the date and reason. The map
// with the new line must still parse; nothing is written otherwise.
// Concurrent blocks are serialised by a lock on the file.
func Block(path, target, reason string, now time.Time) (line string, err error) {
	key, _, err := BlockKey(target)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", path, err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line = "Connect:" + key + " REJECT"
	if cur, err := maps.ParseAccess(path, bytes.NewReader(old)); err == nil {
		if e, ok := existing(cur, key); ok {
			return e, ErrAlreadyBlocked
		}
	}
	reason = strings.Join(strings.Fields(reason), " ") // one line
	var add bytes.Buffer
	if len(old) > 0 && old[len(old)-1] != '\n' {
		add.WriteByte('\n')
	}
	fmt.Fprintf(&add, "# blocked %s", now.UTC().Format(time.RFC3339))
	if reason != "" {
		fmt.Fprintf(&add, ": %s", reason)
	}
	add.WriteString("\n" + line + "\n")
	next := append(append([]byte(nil), old...), add.Bytes()...)
	if _, err := maps.ParseAccess(path, bytes.NewReader(next)); err != nil {
		return "", fmt.Errorf("the access map would not load with the new line (fix it first): %w", err)
	}
	if _, err := f.Write(add.Bytes()); err != nil {
		return "", err
	}
	return line, f.Sync()
}

// existing finds a Connect entry for exactly key that already refuses.
func existing(a *maps.Access, key string) (string, bool) {
	k, p, err := BlockKey(strings.TrimPrefix(key, "IPv6:"))
	if err != nil || k != key {
		return "", false
	}
	e, ok := a.Connect(p.Addr(), "")
	if !ok || (e.Action != maps.ActionReject && e.Action != maps.ActionError) {
		return "", false
	}
	// Only an entry for this very prefix counts: a wider block may be
	// lifted later without lifting this one.
	ek, ep, err := BlockKey(strings.TrimPrefix(e.Key, "IPv6:"))
	if err != nil || ek != key || ep != p {
		return "", false
	}
	return e.Rule(), true
}
