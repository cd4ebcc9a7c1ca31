package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"postern/internal/config"
	"postern/internal/maps"
	"postern/internal/users"
)

const userUsage = `usage: postern user add|passwd|del|list|suspend|resume|revoke [-config FILE] [--password-stdin] [ADDRESS]

  add ADDRESS      add a user (an AUTH login that owns the mailbox of ADDRESS)
  passwd ADDRESS   change a user's password
  del ADDRESS      remove a user
  list             print every user (suspended and revoked ones marked)
  suspend ADDRESS  stop a user: no login, their queued and new mail is held
  resume ADDRESS   lift a suspension; held mail leaves at its next retry
  revoke ADDRESS   make the password unusable at once (sessions logged in
                   before can send no more); set a new one with passwd

The password is prompted for twice on the terminal, or read from the first
line of standard input with --password-stdin. Users live in data_dir/users
(mode 0600) as argon2id hashes.`

// runUser is `postern user add|passwd|del|list`.
func runUser(args []string) int {
	return userCmd(args, os.Stdin, os.Stdout, os.Stderr)
}

// passwordSource reads a password: from the first line of in, or from the
// terminal behind in.
type passwordSource struct {
	in     io.Reader
	prompt io.Writer
	stdin  bool
}

func userCmd(args []string, in io.Reader, out, errw io.Writer) int {
	fs := commandFlags("user", userUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, code, done := parseArgs(fs, args, 1, -1)
	if done {
		return code
	}
	action, rest := pos[0], pos[1:]
	want := 1
	switch action {
	case "list":
		want = 0
	case "add", "passwd", "del", "suspend", "resume", "revoke":
	default:
		fmt.Fprintf(errw, "postern user: unknown action %q\n", action)
		fs.Usage()
		return 2
	}
	if len(rest) != want {
		fs.Usage()
		return 2
	}
	cfg, _, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	store, err := openUsers(cfg)
	if err != nil {
		fmt.Fprintf(errw, "postern user: %v\n", err)
		return 1
	}
	if action == "list" {
		for _, u := range store.List() {
			st := store.State(u)
			switch {
			case st.Suspended && st.Revoked:
				fmt.Fprintln(out, u, "(suspended, revoked)")
			case st.Suspended:
				fmt.Fprintln(out, u, "(suspended)")
			case st.Revoked:
				fmt.Fprintln(out, u, "(revoked)")
			default:
				fmt.Fprintln(out, u)
			}
		}
		return 0
	}
	addr, err := users.Normalize(rest[0])
	if err != nil {
		fmt.Fprintf(errw, "postern user: %v\n", err)
		return 1
	}
	pw := passwordSource{in: in, prompt: errw, stdin: *pwStdin}
	switch action {
	case "add":
		if store.Exists(addr) {
			err = fmt.Errorf("%s: %w", addr, users.ErrExists)
			break
		}
		var p string
		if p, err = pw.read(); err == nil {
			err = store.Add(addr, p)
		}
	case "passwd":
		if !store.Exists(addr) {
			err = fmt.Errorf("%s: %w", addr, users.ErrNotFound)
			break
		}
		var p string
		if p, err = pw.read(); err == nil {
			err = store.Passwd(addr, p)
		}
	case "del":
		err = store.Del(addr)
	case "suspend":
		err = store.Suspend(addr)
	case "resume":
		err = store.Resume(addr)
	case "revoke":
		err = store.Revoke(addr)
	}
	if err != nil {
		fmt.Fprintf(errw, "postern user %s: %v\n", action, err)
		return 1
	}
	fmt.Fprintf(out, "%s: %s done (%s)\n", addr, action, cfg.UsersFile())
	if action == "add" && !isLocal(cfg, addr) {
		fmt.Fprintf(out, "note: %s is not a local domain: the user can log in but has no mailbox here\n", addr[strings.LastIndexByte(addr, '@')+1:])
	}
	return 0
}

// openUsers opens the users file, creating the data dir. Run as root for
// a server that drops to cfg.User, rewrites give the file to that user,
// so that the server can still read it.
func openUsers(cfg *config.Config) (*users.Store, error) {
	owner, err := makeDataDir(cfg)
	if err != nil {
		return nil, err
	}
	opt := users.Options{}
	if owner.IsSet() {
		opt.Owner = &users.Owner{UID: owner.UID, GID: owner.GID}
	}
	return users.OpenOptions(cfg.UsersFile(), opt)
}

// isLocal reports whether addr's domain is local by the config or by
// local-host-names.
func isLocal(cfg *config.Config, addr string) bool {
	dom := addr[strings.LastIndexByte(addr, '@')+1:]
	if cfg.IsLocalDomain(dom) {
		return true
	}
	if cfg.MapsDir == "" {
		return false
	}
	m, err := maps.Load(cfg.MapsDir)
	if err != nil || m == nil {
		return false
	}
	_, ok := m.LocalHostNames.Contains(dom)
	return ok
}

// read returns the password: the first line of standard input, or typed
// twice on the terminal without echo.
func (s passwordSource) read() (string, error) {
	if s.stdin {
		line, err := bufio.NewReader(s.in).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", errors.New("no password on standard input")
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("empty password")
		}
		return line, nil
	}
	f, ok := s.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: use --password-stdin")
	}
	fmt.Fprint(s.prompt, "Password: ")
	p1, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(s.prompt)
	if err != nil {
		return "", err
	}
	fmt.Fprint(s.prompt, "Password again: ")
	p2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(s.prompt)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("the passwords differ")
	}
	if len(p1) == 0 {
		return "", errors.New("empty password")
	}
	return string(p1), nil
}
