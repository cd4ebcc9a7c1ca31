package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postern/internal/testenv"
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
	// Admin is [admin] address: "" for a free loopback port that Write
	// chooses and sets here (never the default 127.0.0.1:9025, which
	// another server may hold), AdminOff for no admin listener. Extra
	// with its own [admin] table leaves it out.
	Admin string
}

// AdminOff as PosternConfig.Admin turns the admin listener off.
const AdminOff = "off"

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
	if c.Admin != "" && !strings.Contains(c.Extra, "[admin]") {
		addr := c.Admin
		if addr == AdminOff {
			addr = ""
		}
		fmt.Fprintf(&b, "\n[admin]\naddress = %q\n", addr)
	}
	return b.String()
}

// Write writes the configuration to path, readable by its owner only,
// with a free loopback port for the admin listener when Admin is "" (and
// Extra has no [admin] table).
func (c *PosternConfig) Write(t testing.TB, path string) {
	t.Helper()
	if c.Admin == "" && !strings.Contains(c.Extra, "[admin]") {
		c.Admin = testenv.FreePort(t)
	}
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
// connections and is held by this postern's own process (never by
// another server that happens to listen there).
func StartPostern(t testing.TB, bin, cfg string, listen ...string) *Program {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-config", cfg)
	return startProgramOwn(t, "postern serve", cmd, func() { cmd.Process.Signal(syscall.SIGTERM) }, dialLoopback, true, listen...)
}
