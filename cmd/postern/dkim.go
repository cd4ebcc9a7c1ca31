package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"postern/internal/cliflags"
	"postern/internal/dkim"
	"postern/internal/dkimkeys"
	pdns "postern/internal/dns"
	"postern/internal/layout"
)

const dkimUsage = `usage: postern dkim keygen -domain DOMAIN -selector SELECTOR [-algo rsa|ed25519] [flags]
       postern dkim activate -domain DOMAIN -selector SELECTOR [-force] [flags]
       postern dkim status [flags]

keygen makes a new signing key (RSA-2048 or Ed25519) in
DATA_DIR/dkim/DOMAIN/SELECTOR.key (mode 0600) and prints the DNS TXT
record to publish. Postern signs with it once activate_after has passed
and, when it replaces an older selector, once its DNS record matches.
activate lets a selector sign from now (-force: without its record).
status shows, per domain, which gate holds each selector and whether
their DNS records match the keys; it exits 1 when an active one does not.`

// runDkim is `postern dkim keygen|activate|status`.
func runDkim(args []string) int {
	return dkimCmd(args, os.Stdout, os.Stderr)
}

func dkimCmd(args []string, out, errw io.Writer) int {
	if len(args) == 0 || !slices.Contains(dkimkeys.Subcommands, args[0]) {
		fmt.Fprintln(errw, dkimUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("dkim "+sub, flag.ContinueOnError)
	fs.SetOutput(errw)
	configPath := fs.String("config", "", configFlagHelp+": its data_dir and [dns] servers are used")
	dataDir := fs.String("data-dir", "", "data `directory` (default: data_dir of the configuration, else ./postern-data)")
	dnsServer := fs.String("dns", "", "DNS server `host:port` for status (default: [dns] servers, else the system resolver)")
	activate := fs.Duration("activate-after", dkim.DefaultActivateAfter, "delay between making a selector and signing with it (default: [dkim] activate_after with -config)")
	domain := fs.String("domain", "", "keygen, activate: the signing `domain` (the From domain)")
	selector := fs.String("selector", "", "keygen, activate: the `selector`, e.g. 2026a")
	algo := fs.String("algo", dkim.AlgoRSA, "keygen: key algorithm, rsa (2048 bits) or ed25519")
	force := fs.Bool("force", false, "activate: take over without waiting for the DNS record")
	fs.Usage = func() {
		fmt.Fprintln(errw, dkimUsage)
		fs.PrintDefaults()
	}
	pos, err := cliflags.Parse(fs, args[1:])
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(errw, "postern dkim %s: unexpected argument %q\n", sub, pos[0])
		return 2
	}
	st := &dkimkeys.Keys{Dir: filepath.Join("postern-data", "dkim"), ActivateAfter: *activate}
	var servers []string
	var timeout time.Duration
	if path := layout.ConfigFile(*configPath); path != "" {
		cfg, _, err := loadConfig(path)
		if err != nil {
			fmt.Fprintf(errw, "postern dkim: %v\n", err)
			return 1
		}
		st.Dir = cfg.DKIMDir()
		if st.Owner, err = layout.MakeDataDir(cfg); err != nil {
			fmt.Fprintf(errw, "postern dkim: %v\n", err)
			return 1
		}
		servers, timeout = cfg.DNS.Servers, cfg.DNS.Timeout
		activateSet := false
		fs.Visit(func(f *flag.Flag) { activateSet = activateSet || f.Name == "activate-after" })
		if !activateSet {
			st.ActivateAfter = cfg.DKIM.ActivateAfter
		}
	}
	if *dataDir != "" {
		st.Dir = filepath.Join(*dataDir, "dkim")
	}
	if err := st.FindOwner(); err != nil {
		fmt.Fprintf(errw, "postern dkim: %v\n", err)
		return 1
	}
	if *dnsServer != "" {
		servers = []string{*dnsServer}
	}
	st.Resolver = pdns.New(pdns.Options{Servers: servers, Timeout: timeout})
	return st.Run(context.Background(), sub, dkimkeys.Request{Domain: *domain, Selector: *selector, Algo: *algo, Force: *force}, out, errw)
}
