package users

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IsAction reports whether name is one of the actions of `postern user`
// on one user (Apply), besides list.
func IsAction(name string) bool {
	switch name {
	case "add", "passwd", "del", "suspend", "resume", "revoke", "grant-admin", "revoke-admin":
		return true
	}
	return false
}

// Apply carries out an action on addr (normalized). add and passwd call
// password for the new password, once the user is known not to exist
// (add) or to exist (passwd), so nobody types a password for nothing.
func (s *Store) Apply(action, addr string, password func() (string, error)) error {
	switch action {
	case "add", "passwd":
		exists := s.Exists(addr)
		if action == "add" && exists {
			return fmt.Errorf("%s: %w", addr, ErrExists)
		}
		if action == "passwd" && !exists {
			return fmt.Errorf("%s: %w", addr, ErrNotFound)
		}
		p, err := password()
		if err != nil {
			return err
		}
		if action == "add" {
			return s.Add(addr, p)
		}
		return s.Passwd(addr, p)
	case "del":
		return s.Del(addr)
	case "suspend":
		return s.Suspend(addr)
	case "resume":
		return s.Resume(addr)
	case "revoke":
		return s.Revoke(addr)
	case "grant-admin":
		return s.GrantAdmin(addr)
	case "revoke-admin":
		return s.RevokeAdmin(addr)
	}
	return fmt.Errorf("unknown action %q", action)
}

// Describe is how a listing shows a user: the address, with its marks
// in brackets: "(admin)", "(suspended)", "(revoked)" or several, as
// "(admin, suspended, revoked)".
func (s *Store) Describe(addr string) string {
	st := s.State(addr)
	var m []string
	if st.Admin {
		m = append(m, "admin")
	}
	if st.Suspended {
		m = append(m, "suspended")
	}
	if st.Revoked {
		m = append(m, "revoked")
	}
	if len(m) == 0 {
		return addr
	}
	return addr + " (" + strings.Join(m, ", ") + ")"
}

// PasswordSource reads a new password: from the first line of In, or
// typed twice without echo on the terminal behind In, prompted on
// Prompt.
type PasswordSource struct {
	In     io.Reader
	Prompt io.Writer
	Stdin  bool // the first line of In, not the terminal
}

// Read returns the password; an empty one is refused.
func (s PasswordSource) Read() (string, error) {
	if s.Stdin {
		line, err := bufio.NewReader(s.In).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", errors.New("no password on standard input")
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("empty password")
		}
		return line, nil
	}
	f, ok := s.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: use --password-stdin")
	}
	p1, err := s.prompt(f, "Password: ")
	if err != nil {
		return "", err
	}
	p2, err := s.prompt(f, "Password again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the passwords differ")
	}
	if p1 == "" {
		return "", errors.New("empty password")
	}
	return p1, nil
}

func (s PasswordSource) prompt(f *os.File, what string) (string, error) {
	fmt.Fprint(s.Prompt, what)
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(s.Prompt)
	return string(p), err
}
