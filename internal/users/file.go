package users

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// maxFileSize bounds the users file: a million users is far beyond it.
const maxFileSize = 64 << 20

// line is one line of the users file; comments and blank lines have no
// address and are written back as they were.
type line struct {
	raw  string
	addr string
	hash string
}

// parse reads the users file format: "address:hash" per line, blank
// lines and lines starting with # ignored. name is used in errors.
func parse(name string, data []byte) ([]line, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not UTF-8 text", name)
	}
	var lines []line
	seen := map[string]int{}
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil, nil
	}
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		s := strings.TrimSpace(raw)
		if s == "" || s[0] == '#' {
			lines = append(lines, line{raw: raw})
			continue
		}
		// The hash never holds a colon; the address might.
		c := strings.LastIndexByte(s, ':')
		if c < 0 {
			return nil, fmt.Errorf("%s:%d: want address:hash", name, n)
		}
		addr, err := Normalize(s[:c])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		h := s[c+1:]
		if err := checkHash(h); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %v", name, n, addr, err)
		}
		if prev, ok := seen[addr]; ok {
			return nil, fmt.Errorf("%s:%d: %s is already on line %d", name, n, addr, prev)
		}
		seen[addr] = n
		lines = append(lines, line{raw: raw, addr: addr, hash: h})
	}
	return lines, nil
}

func format(lines []line) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		if l.addr == "" {
			b.WriteString(l.raw)
		} else {
			b.WriteString(l.addr + ":" + l.hash)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Normalize returns the form in which an address is stored and compared:
// the domain as lower-case IDNA A-labels without a trailing dot, the
// local part in lower case (user names are case-insensitive).
func Normalize(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", fmt.Errorf("%q is not an address (local@domain)", addr)
	}
	local, domain := addr[:at], strings.TrimSuffix(addr[at+1:], ".")
	// RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
	if len(local) > 64 {
		return "", fmt.Errorf("%q: local part longer than 64 characters", addr)
	}
	if local[0] == '#' {
		return "", fmt.Errorf("%q: a local part may not start with #", addr)
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == utf8.RuneError {
			return "", fmt.Errorf("%q: local part has a space, control character or bracket", addr)
		}
	}
	d, err := idna.Lookup.ToASCII(domain)
	if err != nil || d == "" || strings.Contains(d, "..") || strings.HasPrefix(d, ".") {
		return "", fmt.Errorf("%q: bad domain", addr)
	}
	return strings.ToLower(local) + "@" + strings.ToLower(d), nil
}

// writeFile replaces path with data atomically: a temporary file in the
// same directory, mode 0600, fsynced, renamed over path, and the directory
// fsynced. owner, when set, is given the file before the rename.
func writeFile(path string, data []byte, owner *Owner) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if owner != nil {
		if err := f.Chown(owner.UID, owner.GID); err != nil {
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
