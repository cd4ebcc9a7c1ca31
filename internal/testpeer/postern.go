package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// PosternConfig is the configuration of a postern under test.
type PosternConfig struct {
	MapsDir    string   // maps_dir; "" leaves the default, the config file's directory
	Hostname   string   // "mx.example.test" when ""
	DataDir    string   // data_dir
	Local      []string // local_domains; ["example.test"] when nil
	Relay      []string // relay_domains; left out when nil
	Trusted    []string // trusted_networks; ["127.0.0.1/32", "::1/128"] when nil
	Postmaster string   // left out when ""
	User       string   // the account postern drops to (testenv.ServiceUser)

	// The listeners' addresses; "" for none of that mode.
	MTA, Submission, SMTPS string

	TLS     string // the keys of [tls], which must come before [delivery]; no table when ""
	Mailbox string // [delivery] mailbox; DataDir/mail/{domain}/{user}/ when ""
	// Extra is more TOML after mailbox: keys of [delivery] first, then
	// any tables.
	Extra string
	// DNS is the one server postern resolves through ([dns] servers),
	// unless Extra has its own [dns] table.
	DNS string
	// LocalSocket is [local] socket, "" for none (never the default
	// under /run), unless Extra has its own [local] table.
	LocalSocket string
}

// TOML is the configuration file's text.
func (c PosternConfig) TOML() string {
	if c.Hostname == "" {
		c.Hostname = "mx.example.test"
	}
	if c.Local == nil {
		c.Local = []string{"example.test"}
	}
	if c.Trusted == nil {
		c.Trusted = []string{"127.0.0.1/32", "::1/128"}
	}
	if c.Mailbox == "" {
		c.Mailbox = filepath.Join(c.DataDir, "mail", "{domain}", "{user}") + "/"
	}
	var b strings.Builder
	if c.MapsDir != "" {
		fmt.Fprintf(&b, "maps_dir = %q\n", c.MapsDir)
	}
	fmt.Fprintf(&b, "hostname = %q\ndata_dir = %q\nlocal_domains = %s\n", c.Hostname, c.DataDir, tomlList(c.Local))
	if c.Relay != nil {
		fmt.Fprintf(&b, "relay_domains = %s\n", tomlList(c.Relay))
	}
	fmt.Fprintf(&b, "trusted_networks = %s\n", tomlList(c.Trusted))
	if c.Postmaster != "" {
		fmt.Fprintf(&b, "postmaster = %q\n", c.Postmaster)
	}
	fmt.Fprintf(&b, "user = %q\n", c.User)
	for _, l := range []struct{ addr, mode string }{{c.MTA, "mta"}, {c.Submission, "submission"}, {c.SMTPS, "smtps"}} {
		if l.addr != "" {
			fmt.Fprintf(&b, "\n[[listener]]\naddress = %q\nmode = %q\n", l.addr, l.mode)
		}
	}
	if c.TLS != "" {
		fmt.Fprintf(&b, "\n[tls]\n%s\n", c.TLS)
	}
	fmt.Fprintf(&b, "\n[delivery]\nmailbox = %q\n%s\n", c.Mailbox, c.Extra)
	if c.DNS != "" && !strings.Contains(c.Extra, "[dns]") {
		fmt.Fprintf(&b, "\n[dns]\nservers = [%q]\n", c.DNS)
	}
	if !strings.Contains(c.Extra, "[local]") {
		fmt.Fprintf(&b, "\n[local]\nsocket = %q\n", c.LocalSocket)
	}
	return b.String()
}

// Write writes the configuration to path, readable by its owner only.
func (c PosternConfig) Write(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(c.TOML()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func tomlList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// StartPostern runs `bin serve -config cfg` until the test ends (SIGTERM,
// as systemd stops it) and returns once every address in listen accepts
// connections.
func StartPostern(t testing.TB, bin, cfg string, listen ...string) *Program {
	t.Helper()
	return StartProgram(t, "postern serve", exec.Command(bin, "serve", "-config", cfg), syscall.SIGTERM, listen...)
}
