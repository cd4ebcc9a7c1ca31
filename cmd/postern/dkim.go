package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/cliflags"
	"postern/internal/dkim"
	"postern/internal/dkimkeys"
	pdns "postern/internal/dns"
	"postern/internal/layout"
)

const dkimUsage = `usage: postern dkim keygen -domain DOMAIN -selector SELECTOR [-algo rsa|ed25519] [flags]
       postern dkim status [flags]

keygen makes a new signing key (RSA-2048 or Ed25519) in
DATA_DIR/dkim/DOMAIN/SELECTOR.key (mode 0600) and prints the DNS TXT
record to publish. Postern signs with it once activate_after has passed.
status shows, per domain, which selectors sign today and whether their
DNS records match the keys; it exits 1 when an active one does not.`

// runDkim is `postern dkim keygen|status`.
func runDkim(args []string) int {
	return dkimCmd(args, os.Stdout, os.Stderr)
}

func dkimCmd(args []string, out, errw io.Writer) int {
	if len(args) == 0 || (args[0] != "keygen" && args[0] != "status") {
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
	domain := fs.String("domain", "", "keygen: the signing `domain` (the From domain)")
	selector := fs.String("selector", "", "keygen: the new `selector`, e.g. 2026a")
	algo := fs.String("algo", dkim.AlgoRSA, "keygen: key algorithm, rsa (2048 bits) or ed25519")
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
	return dkimRun(st, sub, *domain, *selector, *algo, out, errw)
}

// dkimRun runs keygen or status and maps the outcome to the exit
// status: 2 for a bad request, 1 for a failure (or a selector that
// signs without its DNS record).
func dkimRun(k *dkimkeys.Keys, sub, domain, selector, algo string, out, errw io.Writer) int {
	if sub == "keygen" {
		err := k.Keygen(strings.ToLower(strings.TrimSuffix(domain, ".")), selector, strings.ToLower(algo), out)
		if err != nil {
			fmt.Fprintf(errw, "postern dkim keygen: %v\n", err)
			if dkimkeys.IsUsage(err) {
				return 2
			}
			return 1
		}
		return 0
	}
	ok, err := k.Status(context.Background(), out)
	if err != nil {
		fmt.Fprintf(errw, "postern dkim status: %v\n", err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}
