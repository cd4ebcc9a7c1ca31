package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"postern/internal/config"
	"postern/internal/configcheck"
	"postern/internal/layout"
	"postern/internal/sendmail"
)

// runSendmail is `postern sendmail` (also sendmail, mailq and newaliases
// through a link): internal/sendmail holds the command line and the
// client; this finds the socket in the configuration and runs the mode.
func runSendmail(args []string) int {
	a, err := sendmail.ParseArgs(args)
	if err != nil {
		if errors.Is(err, sendmail.ErrHelp) {
			fmt.Println(sendmail.Usage)
			return 0
		}
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
		return sendmail.ExUsage
	}
	switch a.Mode {
	case sendmail.ModeList:
		return runQueue(queueArgs("list", a.Config))
	case sendmail.ModeQueueRun:
		return runQueue(queueArgs("flush", a.Config))
	case sendmail.ModeAliases:
		return newaliases(a.Config)
	}
	sock, code := sendmailSocket(a.Config)
	if code != 0 {
		return code
	}
	login, fullName := sendmail.Caller()
	c := &sendmail.Client{Socket: sock, Login: login, FullName: fullName, Stderr: os.Stderr}
	ctx := context.Background()
	switch a.Mode {
	case sendmail.ModeSMTP:
		return c.SMTP(ctx, os.Stdin, os.Stdout)
	case sendmail.ModeVerify:
		return c.Verify(ctx, a, os.Stdout)
	}
	return c.Deliver(ctx, a, os.Stdin)
}

// queueArgs are the arguments of the postern queue command that -bp and
// -q stand for.
func queueArgs(verb, configFlag string) []string {
	qargs := []string{verb}
	if p := layout.ConfigFile(configFlag); p != "" {
		qargs = append(qargs, "-config", p)
	}
	return qargs
}

// sendmailSocket finds the local submission socket in the
// configuration. A file this user may not read (it may name secrets)
// means the default socket.
func sendmailSocket(configFlag string) (string, int) {
	path := layout.ConfigFile(configFlag)
	if path != "" {
		if f, err := os.Open(path); errors.Is(err, fs.ErrPermission) {
			fmt.Fprintf(os.Stderr, "postern sendmail: cannot read %s (permission denied); trying the default socket %s\n", path, config.DefaultLocalSocket)
			return config.DefaultLocalSocket, 0
		} else if err == nil {
			f.Close()
		}
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
		return "", sendmail.ExConfig
	}
	if cfg.Local.Socket == "" {
		fmt.Fprintf(os.Stderr, "postern sendmail: local submission is turned off ([local] socket = \"\" in %s)\n", describeConfig(cfg))
		return "", sendmail.ExUnavailable
	}
	return cfg.Local.Socket, 0
}

func describeConfig(cfg *config.Config) string {
	if cfg.File == "" {
		return config.EmbeddedName
	}
	return cfg.File
}

// newaliases is -bi: there is nothing to rebuild; the maps are checked.
func newaliases(configFlag string) int {
	cfg, _, err := loadConfig(configFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "newaliases: %v\n", err)
		return sendmail.ExConfig
	}
	r := configcheck.Maps(cfg)
	return sendmail.Newaliases(os.Stdout, os.Stderr, cfg.MapsDir, r.Warnings, r.Problems)
}
