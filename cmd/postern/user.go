package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"postern/internal/cliflags"
	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/maps"
	"postern/internal/sharedmaps"
	"postern/internal/sharedstate"
	"postern/internal/users"
)

const userUsage = `usage: postern user add|passwd|del|list|suspend|resume|revoke|grant-admin|revoke-admin [-config FILE] [--password-stdin] [ADDRESS]

  add ADDRESS      add a user (an AUTH login that owns the mailbox of ADDRESS)
  passwd ADDRESS   change a user's password
  del ADDRESS      remove a user
  list             print every user (suspended and revoked ones marked)
  suspend ADDRESS  stop a user: no login, their queued and new mail is held
                   (on every server sharing a Redis or PostgreSQL backend)
  resume ADDRESS   lift a suspension; held mail leaves at its next retry
  revoke ADDRESS   make the password unusable at once (sessions logged in
                   before can send no more); set a new one with passwd
  grant-admin ADDRESS, revoke-admin ADDRESS  let a user log in to the web console, or not

The password is prompted for twice on the terminal, or read from the first
line of standard input with --password-stdin. Users live in data_dir/users
(mode 0600) as argon2id hashes, or in the table of [postgres_users].`

// runUser is `postern user add|passwd|del|list`.
func runUser(args []string) int {
	return userCmd(args, os.Stdin, os.Stdout, os.Stderr)
}

func userCmd(args []string, in io.Reader, out, errw io.Writer) int {
	fs := cliflags.New("user", userUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, code, done := cliflags.ParseN(fs, args, 1, -1)
	if done {
		return code
	}
	action, rest := pos[0], pos[1:]
	if action != "list" && !users.IsAction(action) {
		fmt.Fprintf(errw, "postern user: unknown action %q\n", action)
		fs.Usage()
		return 2
	}
	want := 1 // the address
	if action == "list" {
		want = 0
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
	if err, _ := store.LoadError(); err != nil {
		fmt.Fprintf(errw, "postern user: %v\n", err)
		return 1
	}
	if action == "list" {
		for _, u := range store.List() {
			fmt.Fprintln(out, store.Describe(u))
		}
		return 0
	}
	addr, err := users.Normalize(rest[0])
	if err != nil {
		fmt.Fprintf(errw, "postern user: %v\n", err)
		return 1
	}
	pw := users.PasswordSource{In: in, Prompt: errw, Stdin: *pwStdin}
	if err := store.Apply(action, addr, pw.Read); err != nil {
		fmt.Fprintf(errw, "postern user %s: %v\n", action, err)
		return 1
	}
	if err := sharedstate.ApplyUser(cfg, slog.New(slog.NewTextHandler(errw, nil)), action, addr); err != nil {
		fmt.Fprintf(errw, "postern user %s: %v\n", action, err)
		return 1
	}
	fmt.Fprintf(out, "%s: %s done (%s)\n", addr, action, store.Where())
	if action == "add" && !isLocal(cfg, addr) {
		fmt.Fprintf(out, "note: %s is not a local domain: the user can log in but has no mailbox here\n", addr[strings.LastIndexByte(addr, '@')+1:])
	}
	return 0
}

// openUsers opens the users file, creating the data dir. Run as root for
// a server that drops to cfg.User, rewrites give the file to that user,
// so that the server can still read it.
func openUsers(cfg *config.Config) (*users.Store, error) {
	owner, err := layout.MakeDataDir(cfg)
	if err != nil {
		return nil, err
	}
	opt := users.Options{}
	if opt.Remote, err = sharedmaps.Users(cfg); err != nil { // [postgres_users]: the table
		return nil, err
	}
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
