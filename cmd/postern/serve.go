package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"postern/internal/config"
	"postern/internal/inbound"
	"postern/internal/maillog"
	"postern/internal/privs"
	"postern/internal/smtpd"
	"postern/internal/tlsutil"
)

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", configFlagHelp)
	if _, err := parseFlags(fs, args); err != nil {
		return 2
	}
	cfg, warnings, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The mail log: one line per event, syslog-style text or JSON.
	log := slog.New(maillog.New(os.Stderr, maillog.Options{JSON: cfg.Log.Format == "json", Hostname: cfg.Hostname}))
	for _, w := range warnings {
		log.Warn("config", "warning", w.String())
	}
	if err := serve(cfg, log); err != nil {
		log.Error("postern stopped", "err", err)
		return 1
	}
	return 0
}

// loadConfig reads the file, or the embedded default for "".

// serve builds every piece from the configuration and runs until SIGTERM
// or SIGINT.
func serve(cfg *config.Config, log *slog.Logger) error {
	runAs, err := targetUser(cfg.User)
	if err != nil {
		return err
	}
	// The data dir belongs to the user postern runs as.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	if err := privs.CheckPerms(permPaths(cfg)...); err != nil {
		return err
	}
	// Certificates and keys are read while still privileged; a
	// self-signed one is generated into the data dir first.
	tlsConf, err := tlsutil.Load(cfg.TLS.Cert, cfg.TLS.Key, cfg.DataDir, cfg.Hostname)
	if err != nil {
		return err
	}
	if runAs != nil {
		// Like Postfix's set-permissions: everything under the data dir
		// belongs to the unprivileged user, whoever created it.
		if err := chownTree(cfg.DataDir, runAs.uid, runAs.gid); err != nil {
			return err
		}
	}
	owner, err := serverOwner(cfg)
	if err != nil {
		return err
	}
	shown := cfg
	if cfg, err = enterDataDir(cfg, owner, log); err != nil {
		return err
	}
	var lns []net.Listener
	var own []netip.Addr
	for _, l := range cfg.Listeners {
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return fmt.Errorf("listener %s: %w", l.Name, err)
		}
		lns = append(lns, ln)
		own = append(own, listenAddrs(ln)...)
	}
	// Local submission (postern sendmail): a unix socket, no network.
	var localLn net.Listener
	if cfg.Local.Socket != "" {
		if localLn, err = listenLocal(cfg.Local.Socket, runAs); err != nil {
			// Mail from the network still flows; sendmail will say
			// that the server is not reachable.
			log.Error("local submission off", "socket", cfg.Local.Socket, "err", err)
		}
	}
	// Bind first, then give up root before reading any network input.
	if os.Geteuid() == 0 {
		if err := privs.Drop(cfg.User); err != nil {
			return err
		}
	}

	d, err := build(cfg, log, own)
	if err != nil {
		return err
	}
	// Queue commands (postern queue flush|hold|...) reach the server here.
	if err := serveControl(d); err != nil {
		return err
	}
	sp := d.spool
	stages, err := buildStages(d)
	if err != nil {
		return err
	}
	tmpDir := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return err
	}
	// Everything is open and built: confine the server to its files.
	if d.sandbox, err = applySandbox(cfg, log); err != nil {
		return err
	}
	backend := inbound.New(inbound.Options{
		TmpDir:   tmpDir,
		Hostname: cfg.Hostname,
		Relay:    d.relay,
		Spool:    sp,
		Auth:     d.users,
		Log:      log,
		Checkers: stages,
	})
	srv := smtpd.New(backend, log, smtpd.Options{
		Hostname:        cfg.Hostname,
		TLS:             tlsConf,
		MaxMessageBytes: cfg.Limits.MaxMessageBytes,
		MaxRecipients:   cfg.Limits.MaxRecipients,
		MaxErrors:       cfg.Limits.MaxErrors,
		MaxLineLength:   cfg.Limits.MaxCommandLineBytes,
		CommandTimeout:  cfg.Limits.CommandTimeout,
		DataTimeout:     cfg.Limits.DataTimeout,
		Chunking:        true,
		// RFC 3461: DSN parameters are kept and honoured by the queue.
		DSN: true,
	})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if d.maps != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		go d.maps.Watch(ctx, 5*time.Second, hup)
	}
	var tasks sync.WaitGroup
	for _, task := range d.tasks {
		tasks.Add(1)
		go func() {
			defer tasks.Done()
			task(ctx)
		}()
	}
	spoolDone := make(chan error, 1)
	go func() { spoolDone <- sp.Run(ctx) }()
	errc := make(chan error, len(lns)+1)
	if localLn != nil {
		go func() {
			errc <- srv.Serve(localLn, smtpd.Listener{Name: "local", Mode: smtpd.ModeLocal})
		}()
	}
	for i, l := range cfg.Listeners {
		mode, _ := smtpd.ParseMode(string(l.Mode))
		go func(ln net.Listener, name string, mode smtpd.Mode) {
			errc <- srv.Serve(ln, smtpd.Listener{Name: name, Mode: mode})
		}(lns[i], l.Name, mode)
	}
	// Start-up work (the argon2 dummy hash, TLS set-up) leaves freed
	// memory behind; give it back before serving.
	debug.FreeOSMemory()
	printStartup(shown, lns)
	if localLn != nil {
		fmt.Printf("  local submission on %s (postern sendmail)\n", shown.Local.Socket)
	}
	log.Info("postern started", "hostname", cfg.Hostname, "data_dir", shown.DataDir, "uid", os.Geteuid())

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("listener failed", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	stop()
	<-spoolDone
	tasks.Wait()
	if err != nil && !errors.Is(err, smtpd.ErrServerClosed) {
		return err
	}
	return nil
}

type uidgid struct{ uid, gid int }

// targetUser resolves the configured user when running as root.
func targetUser(name string) (*uidgid, error) {
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
	return &uidgid{uid, gid}, nil
}

// chownTree gives dir and everything below it to uid:gid, without
// following symbolic links.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// listenAddrs lists the addresses a listener answers on: its own, or
// every interface address for a wildcard listener.
func listenAddrs(ln net.Listener) []netip.Addr {
	a := ln.Addr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	if a.IsUnspecified() {
		return interfaceAddrs()
	}
	return []netip.Addr{a}
}

func printStartup(cfg *config.Config, lns []net.Listener) {
	abs, _ := filepath.Abs(cfg.DataDir)
	src := cfg.File
	if src == "" {
		src = "embedded default (no -config given)"
	}
	fmt.Printf("postern is running as %s\n  config:   %s\n  data dir: %s\n  spool:    %s\n  mailboxes: %s\n",
		cfg.Hostname, src, abs, cfg.SpoolDir(), cfg.Delivery.Mailbox)
	for i, l := range cfg.Listeners {
		fmt.Printf("  listener %-10s %-12s on %s\n", l.Name, l.Mode, lns[i].Addr())
	}
	if len(cfg.Listeners) > 0 {
		fmt.Printf("Send a test message with:\n  swaks --server %s --to postmaster@%s\n", lns[0].Addr(), firstOr(cfg.LocalDomains, cfg.Hostname))
		fmt.Printf("Add a user for AUTH and a mailbox with:\n  postern user add user@%s\n", firstOr(cfg.LocalDomains, cfg.Hostname))
	}
}

func firstOr(xs []string, def string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return def
}
