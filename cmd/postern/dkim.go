package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"postern/internal/dkim"
	pdns "postern/internal/dns"
	"postern/internal/privs"
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

// dkimSettings are what both subcommands need, from flags or the config.
type dkimSettings struct {
	dir           string // DATA_DIR/dkim
	activateAfter time.Duration
	resolver      pdns.Resolver
	// owner receives the keys written as root: the server's user.
	owner privs.Owner
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
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(errw, "postern dkim %s: unexpected argument %q\n", sub, pos[0])
		return 2
	}
	st := dkimSettings{dir: filepath.Join("postern-data", "dkim"), activateAfter: *activate}
	var servers []string
	var timeout time.Duration
	if path := configFile(*configPath); path != "" {
		cfg, _, err := loadConfig(path)
		if err != nil {
			fmt.Fprintf(errw, "postern dkim: %v\n", err)
			return 1
		}
		st.dir = cfg.DKIMDir()
		if st.owner, err = makeDataDir(cfg); err != nil {
			fmt.Fprintf(errw, "postern dkim: %v\n", err)
			return 1
		}
		servers, timeout = cfg.DNS.Servers, cfg.DNS.Timeout
		activateSet := false
		fs.Visit(func(f *flag.Flag) { activateSet = activateSet || f.Name == "activate-after" })
		if !activateSet {
			st.activateAfter = cfg.DKIM.ActivateAfter
		}
	}
	if *dataDir != "" {
		st.dir = filepath.Join(*dataDir, "dkim")
	}
	if !st.owner.IsSet() {
		// Without the configuration's user, the keys go to whoever owns
		// the data dir (the server, once it has run as root).
		if st.owner, err = privs.OwnerOf(filepath.Dir(st.dir)); err != nil {
			fmt.Fprintf(errw, "postern dkim: %v\n", err)
			return 1
		}
	}
	if *dnsServer != "" {
		servers = []string{*dnsServer}
	}
	st.resolver = pdns.New(pdns.Options{Servers: servers, Timeout: timeout})
	if sub == "keygen" {
		return dkimKeygen(st, strings.ToLower(strings.TrimSuffix(*domain, ".")), *selector, strings.ToLower(*algo), out, errw)
	}
	return dkimStatus(st, out, errw)
}

func dkimKeygen(st dkimSettings, domain, selector, algo string, out, errw io.Writer) int {
	if domain == "" || selector == "" {
		fmt.Fprintln(errw, "postern dkim keygen: -domain and -selector are required")
		return 2
	}
	if !dkim.ValidDomain(domain) {
		fmt.Fprintf(errw, "postern dkim keygen: %q is not a domain name\n", domain)
		return 2
	}
	if !dkim.ValidSelector(selector) {
		fmt.Fprintf(errw, "postern dkim keygen: %q is not a usable selector (letters, digits and '-', one label)\n", selector)
		return 2
	}
	key, pemBytes, err := dkim.GenerateKey(algo)
	if err != nil {
		fmt.Fprintf(errw, "postern dkim keygen: %v\n", err)
		return 2
	}
	path, err := dkim.WriteKey(st.dir, domain, selector, pemBytes)
	if err != nil {
		fmt.Fprintf(errw, "postern dkim keygen: %v\n", err)
		return 1
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := dkim.AddSelector(st.dir, domain, dkim.Selector{Name: selector, Algo: algo, Created: now}); err != nil {
		os.Remove(path)
		fmt.Fprintf(errw, "postern dkim keygen: %v\n", err)
		return 1
	}
	// The server reads its keys as its own user, never as root.
	if err := st.owner.Give(st.dir); err != nil {
		fmt.Fprintf(errw, "postern dkim keygen: %v\n", err)
		return 1
	}
	rec, err := dkim.PublicRecord(key)
	if err != nil {
		fmt.Fprintf(errw, "postern dkim keygen: %v\n", err)
		return 1
	}
	fmt.Fprintf(out, "Wrote %s (%s, mode 0600%s).\n\n", path, algo, ownerNote(st.owner))
	fmt.Fprintf(out, "Publish this DNS record now. Postern signs mail from %s with selector %s\n", domain, selector)
	fmt.Fprintf(out, "from %s (after activate_after = %s), once DNS caches have it;\n", now.Add(st.activateAfter).Format(time.RFC3339), st.activateAfter)
	fmt.Fprintf(out, "an older selector of the same algorithm stops signing then (keep its record a few days more).\n\n")
	fmt.Fprint(out, zoneRecord(dkim.RecordName(selector, domain), rec))
	return 0
}

// zoneRecord writes a TXT record in zone-file form, split into strings
// of at most 255 bytes (RFC 1035 3.3.14).
func zoneRecord(name, value string) string {
	parts := dkim.SplitTXT(value)
	if len(parts) == 1 {
		return fmt.Sprintf("%s. IN TXT \"%s\"\n", name, parts[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s. IN TXT (\n", name)
	for _, p := range parts {
		fmt.Fprintf(&b, "\t\"%s\"\n", p)
	}
	b.WriteString("\t)\n")
	return b.String()
}

func dkimStatus(st dkimSettings, out, errw io.Writer) int {
	entries, err := os.ReadDir(st.dir)
	if os.IsNotExist(err) {
		fmt.Fprintf(out, "No DKIM keys in %s; make one with: postern dkim keygen -domain DOMAIN -selector SELECTOR\n", st.dir)
		return 0
	}
	if err != nil {
		fmt.Fprintf(errw, "postern dkim status: %v\n", err)
		return 1
	}
	var domains []string
	for _, e := range entries {
		if e.IsDir() && dkim.ValidDomain(e.Name()) {
			domains = append(domains, e.Name())
		}
	}
	sort.Strings(domains)
	now := time.Now()
	status := 0
	ctx := context.Background()
	for _, d := range domains {
		sels, err := dkim.ReadSchedule(st.dir, d)
		if err != nil {
			fmt.Fprintf(out, "%s: %v\n", d, err)
			status = 1
			continue
		}
		states := dkim.States(sels, now, st.activateAfter)
		var signing []string
		for _, s := range sels {
			if states[s.Name] == dkim.StateActive {
				signing = append(signing, s.Name+" ("+s.Algo+")")
			}
		}
		if len(signing) == 0 {
			fmt.Fprintf(out, "%s: not signing today (no active selector)\n", d)
		} else {
			fmt.Fprintf(out, "%s: signs today with %s\n", d, strings.Join(signing, ", "))
		}
		for _, s := range sels {
			state := states[s.Name]
			when := ""
			switch state {
			case dkim.StatePending:
				when = "signs from " + s.ActivatesAt(st.activateAfter).UTC().Format(time.RFC3339)
			case dkim.StateActive:
				when = "since " + s.ActivatesAt(st.activateAfter).UTC().Format(time.RFC3339)
			case dkim.StateRetired:
				when = "made " + s.Created.UTC().Format(time.RFC3339)
			}
			dnsNote := "-"
			if state != dkim.StateRetired {
				dnsNote = checkPublished(ctx, st, d, s.Name)
				if state == dkim.StateActive && dnsNote != "DNS ok" {
					status = 1
				}
			}
			fmt.Fprintf(out, "  %-20s %-8s %-8s %-36s %s\n", s.Name, s.Algo, state, when, dnsNote)
		}
	}
	return status
}

// checkPublished looks up a selector's record and compares it with the key.
func checkPublished(ctx context.Context, st dkimSettings, domain, selector string) string {
	key, err := dkim.LoadKey(dkim.KeyPath(st.dir, domain, selector))
	if err != nil {
		return "key unreadable: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name := dkim.RecordName(selector, domain)
	txts, err := st.resolver.LookupTXT(ctx, name)
	if pdns.IsNotFound(err) {
		return "DNS missing: publish " + name
	}
	if err != nil {
		return "DNS error: " + err.Error()
	}
	if err := dkim.RecordMatches(txts, key); err != nil {
		return "DNS wrong: " + err.Error()
	}
	return "DNS ok"
}
