// Command postern is a hardened SMTP gateway and mail server.
//
// main is the only reader of the configuration: each subcommand loads it,
// builds the pieces it needs and hands them their settings explicitly.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"postern/internal/changescmd"
	"postern/internal/dmarcinbox/dmarccmd"
	"postern/internal/sendmail"
)

// command is one subcommand. run gets the arguments after the subcommand
// name and returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(args []string) int
}

// commands lists every subcommand; each lives in a file named after it.
var commands = []command{
	{"version", "print the version", runVersion},
	{"dmarc", "DMARC aggregate reports received: dmarc report|import", dmarccmd.Run},
	{"dns-records", "print the DNS records to publish for a mail domain (MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT)", runDNSRecords},
	{"check", "validate the configuration, maps and files without starting", runCheck},
	{"set-permissions", "give the data dir to the service user and make the maps readable to it", runSetPerms},
	{"user", "add, change, remove or list AUTH users: user add|passwd|del|list|suspend|resume|revoke", runUser},
	{"serve", "run the mail server", runServe},
	{"explain", "tell what postern would answer a client, and why", runExplain},
	{"audit", "check a mail server against the hardening checklist", runAudit},
	{"lint-sendmail", "flag dangerous settings in a sendmail configuration", runLintSendmail},
	{"import-sendmail", "write a postern config and maps from a sendmail setup", runImportSendmail},
	{"dkim", "make DKIM keys and show which selector signs: dkim keygen|status", runDkim},
	{"srs", "SRS keys and addresses of forwarded mail: srs rotate|status|forward|reverse", runSrs},
	{"queue", "the messages waiting for delivery: queue list|flush|hold|release|remove|bounce", runQueue},
	{"status", "listeners, queue, limits, alerts and recent refusals in one screen", runStatus},
	{"changes", "the change log of the config file, maps and users file: changes list|show N", changescmd.RunChanges},
	{"rollback", "put back the version of a file an earlier change recorded: rollback N", changescmd.RunRollback},
	{"reload", "check and record every change, and have the running server reload", changescmd.RunReload},
	{"block", "refuse an address or network at once (access map, reloaded)", runBlock},
	{"backup", "save config, maps, users, DKIM and SRS keys and certificates in one archive", runBackup},
	{"restore", "put back what postern backup saved", runRestore},
	{"sendmail", "submit a message from this host through the local socket (also as sendmail, mailq, newaliases)", runSendmail},
}

func main() {
	os.Exit(dispatch(os.Args))
}

func dispatch(argv []string) int {
	// Called through a link named "sendmail" (or "mailq"), act as that.
	if len(argv) > 0 {
		switch base(argv[0]) {
		case "sendmail", "mailq", "newaliases":
			for _, c := range commands {
				if c.name == "sendmail" {
					return c.run(append(sendmail.Alias(base(argv[0])), argv[1:]...))
				}
			}
		}
	}
	if len(argv) < 2 {
		usage(os.Stderr)
		return 2
	}
	name := argv[1]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(os.Stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(argv[2:])
		}
	}
	fmt.Fprintf(os.Stderr, "postern: unknown command %q\n\n", name)
	usage(os.Stderr)
	return 2
}

func base(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: postern COMMAND [flags] [arguments]\n\ncommands:")
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery command takes -config FILE; run 'postern COMMAND -h' for its flags.")
}
