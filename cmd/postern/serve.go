package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"postern/internal/changewatch"
	"postern/internal/cliflags"
	"postern/internal/config"
	"postern/internal/inbound"
	"postern/internal/layout"
	"postern/internal/maillog"
	"postern/internal/maps"
	"postern/internal/privs"
	"postern/internal/server"
	"postern/internal/sharedmaps"
	"postern/internal/sharedstate"
	"postern/internal/smtpd"
	"postern/internal/status"
	"postern/internal/tlsutil"
	"postern/internal/users"
)

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", configFlagHelp)
	if _, err := cliflags.Parse(fs, args); err != nil {
		return 2
	}
	cfg, warnings, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, changewatch.Refusal(*cfgPath, err))
		return 1
	}
	// The mail log: one line per event, syslog-style text or JSON.
	log := slog.New(maillog.New(os.Stderr, maillog.Options{JSON: cfg.Log.Format == "json", Hostname: cfg.Hostname}))
	for _, w := range warnings {
		log.Warn("config", "warning", w.String())
	}
	if err := serve(cfg, log); err != nil {
		if le := (*server.ListenError)(nil); errors.As(err, &le) {
			fmt.Fprintln(os.Stderr, "postern serve:", le) // as written, not quoted as the log quotes it
		}
		log.Error("postern stopped", "err", err)
		return 1
	}
	return 0
}

// serve builds every piece from the configuration and runs until SIGTERM
// or SIGINT.
func serve(cfg *config.Config, log *slog.Logger) error {
	runAs, err := server.RunAs(cfg.User)
	if err != nil {
		return err
	}
	tlsConf, err := prepareDataDir(cfg, runAs)
	if err != nil {
		return err
	}
	owner, err := serverOwner(cfg)
	if err != nil {
		return err
	}
	shown := cfg
	if cfg, err = layout.Enter(cfg, owner, log); err != nil {
		return err
	}
	// Every listener opens, or the server does not start (and records
	// no version in the change log).
	b, err := server.Bind(bindRequest(cfg), runAs, log)
	if err != nil {
		return err
	}
	changes := changewatch.Start(shown, cfg, owner, log) // read as root: the config file
	// Read while privileged, as the server's own certificate is.
	clientCAs, err := tlsutil.LoadClientCAs(cfg.TLS.ClientCAFile)
	if err != nil {
		return err
	}
	// So are the shared maps' passwords, which may be root's alone.
	sharedMaps, err := sharedmaps.Sources(cfg)
	if err != nil {
		return err
	}
	sharedUsers, err := sharedmaps.Users(cfg) // [postgres_users], or nil
	if err != nil {
		return err
	}
	state, err := sharedstate.Open(cfg, log) // and the shared state's (not connected yet)
	if err != nil {
		return err
	}
	// Bind first, then give up root before reading any network input.
	if os.Geteuid() == 0 {
		if err := privs.Drop(cfg.User); err != nil {
			return err
		}
	}
	for _, m := range sharedMaps {
		m.Observe = changes.ObserveMap // the directory's versions go into the change log
	}
	if sharedUsers != nil {
		sharedUsers.Observe = changes.ObserveUsers // and the users table's
	}
	d, srv, err := assemble(cfg, log, b.Own, tlsConf, clientCAs, sharedMaps, sharedUsers, state)
	if err != nil {
		return err
	}
	d.changes, d.admin = changes.WithAlerts(d.alerts), b.Admin
	serveMTASTS(d, b.MTASTS, tlsConf)
	return run(d, srv, b, shown)
}

// prepareDataDir makes the data dir, checks the permissions of what the
// server reads, and loads the certificate while still privileged (a
// self-signed one is generated into the data dir first).
func prepareDataDir(cfg *config.Config, runAs *server.Account) (*tls.Config, error) {
	// The data dir belongs to the user postern runs as.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := privs.CheckPerms(layout.PermPaths(cfg)...); err != nil {
		return nil, err
	}
	tlsConf, err := tlsutil.Load(cfg.TLS.Cert, cfg.TLS.Key, cfg.DataDir, cfg.Hostname)
	if err != nil {
		return nil, err
	}
	if runAs != nil {
		// Like Postfix's set-permissions: everything under the data dir
		// belongs to the unprivileged user, whoever created it.
		if err := layout.GiveTree(cfg.DataDir, runAs.UID, runAs.GID); err != nil {
			return nil, err
		}
	}
	return tlsConf, nil
}

// bindRequest is what serve opens while still root: the [[listener]]
// tables, the admin listener, the MTA-STS policy server, the local socket.
func bindRequest(cfg *config.Config) server.Request {
	req := server.Request{Admin: cfg.Admin.Address, Socket: cfg.Local.Socket}
	if cfg.MTASTS.Serves() {
		req.MTASTS = cfg.MTASTS.Listen
	}
	for _, l := range cfg.Listeners {
		mode, _ := smtpd.ParseMode(string(l.Mode))
		req.SMTP = append(req.SMTP, server.Spec{Name: l.Name, Address: l.Address, Mode: mode})
	}
	return req
}

// assemble builds the shared pieces, the control socket, the stages and
// the SMTP server, then confines the process to its files.
func assemble(cfg *config.Config, log *slog.Logger, own []netip.Addr, tlsConf *tls.Config, clientCAs *x509.CertPool, sharedMaps []*maps.External, sharedUsers *users.RemoteOptions, state *sharedstate.Store) (*deps, *smtpd.Server, error) {
	d, err := build(cfg, log, own, sharedMaps, sharedUsers, state)
	if err != nil {
		return nil, nil, err
	}
	d.tls = tlsConf
	// Queue commands (postern queue flush|hold|...) reach the server here.
	if err := serveControl(d); err != nil {
		return nil, nil, err
	}
	stages, err := buildStages(d)
	if err != nil {
		return nil, nil, err
	}
	tmpDir := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return nil, nil, err
	}
	// Everything is open and built: confine the server to its files.
	if d.sandbox, err = applySandbox(cfg, log); err != nil {
		return nil, nil, err
	}
	backend := inbound.New(inbound.Options{
		TmpDir:    tmpDir,
		Hostname:  cfg.Hostname,
		Relay:     d.relay,
		Spool:     d.spool,
		Auth:      d.users,
		Log:       log,
		Checkers:  stages,
		ClientCAs: clientCAs,
	})
	srv := smtpd.New(backend, log, smtpd.Options{
		Hostname:          cfg.Hostname,
		TLS:               tlsConf,
		RequestClientCert: clientCAs != nil,
		MaxMessageBytes:   cfg.Limits.MaxMessageBytes,
		MaxRecipients:     cfg.Limits.MaxRecipients,
		MaxErrors:         cfg.Limits.MaxErrors,
		MaxLineLength:     cfg.Limits.MaxCommandLineBytes,
		CommandTimeout:    cfg.Limits.CommandTimeout,
		DataTimeout:       cfg.Limits.DataTimeout,
		Chunking:          true,
		// RFC 3461: DSN parameters are kept and honoured by the queue.
		DSN: true,
	})
	return d, srv, nil
}

// run hands the pieces to server.Run, with SIGTERM and SIGINT to stop
// and SIGHUP to reload the maps, and prints the banner once they serve.
func run(d *deps, srv *smtpd.Server, b *server.Bound, shown *config.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if d.maps != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		go d.maps.Watch(ctx, 5*time.Second, hup)
	}
	go d.changes.Watch(ctx, 5*time.Second)
	s := &server.Server{SMTP: srv, Listeners: b.All(), Queue: d.spool, Tasks: d.tasks, Log: d.log, SessionsDone: stop, Serving: func() {
		// Start-up work (the argon2 dummy hash, TLS set-up) leaves
		// freed memory behind; give it back before serving.
		debug.FreeOSMemory()
		var addrs []string
		for _, l := range b.TCP {
			addrs = append(addrs, l.Addr().String())
		}
		status.WriteBanner(os.Stdout, shown, addrs)
		if b.Local != nil {
			fmt.Printf("  local submission on %s (postern sendmail)\n", shown.Local.Socket)
		}
		d.log.Info("postern started", "hostname", d.cfg.Hostname, "data_dir", shown.DataDir, "uid", os.Geteuid())
	}}
	err := s.Run(ctx)
	// Closed after the tasks end: their last flushes (TLS report counts)
	// still go to the shared engine.
	d.rate.Backend.Close()
	return err
}
