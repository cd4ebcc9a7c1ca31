package sendmailcf_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"postern/internal/dnstest"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"postern/internal/audit"
	"postern/internal/audit/audittest"
	"postern/internal/sendmailcf"
	"postern/internal/testenv"
)

// Masquerade holds the [delivery] masquerading keys.
type Masquerade struct {
	MasqueradeAs           string   `toml:"masquerade_as"`
	MasqueradeDomains      []string `toml:"masquerade_domains"`
	MasqueradeEntireDomain bool     `toml:"masquerade_entire_domain"`
	MasqueradeExposed      []string `toml:"masquerade_exposed"`
}

// imported is the part of postern's config the importer writes.
type imported struct {
	Hostname        string   `toml:"hostname"`
	DataDir         string   `toml:"data_dir"`
	MapsDir         string   `toml:"maps_dir"`
	LocalDomains    []string `toml:"local_domains"`
	RelayDomains    []string `toml:"relay_domains"`
	TrustedNetworks []string `toml:"trusted_networks"`
	User            string   `toml:"user"`
	Listener        []struct {
		Address string `toml:"address"`
		Mode    string `toml:"mode"`
	} `toml:"listener"`
	TLS struct {
		Cert string `toml:"cert"`
		Key  string `toml:"key"`
	} `toml:"tls"`
	Delivery struct {
		Mailbox    string `toml:"mailbox"`
		Smarthost  string `toml:"smarthost"`
		LuserRelay string `toml:"luser_relay"`
		Masquerade
	} `toml:"delivery"`
	Limits struct {
		MaxMessageBytes int64 `toml:"max_message_bytes"`
		MaxRecipients   int   `toml:"max_recipients"`
	} `toml:"limits"`
	Checks struct {
		DNSBL struct {
			Stage string `toml:"stage"`
			List  []struct {
				Zone    string   `toml:"zone"`
				Codes   []string `toml:"codes"`
				Reply   string   `toml:"reply"`
				OnError string   `toml:"on_error"`
			} `toml:"list"`
		} `toml:"dnsbl"`
	} `toml:"checks"`
	Milter []struct {
		Name     string `toml:"name"`
		Socket   string `toml:"socket"`
		Flags    string `toml:"flags"`
		Timeouts string `toml:"timeouts"`
	} `toml:"milter"`
}

func TestImport(t *testing.T) {
	im, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: "testdata/import/etc-mail", Hostname: "fallback.example.test",
		DataDir: "/var/lib/postern", MapsDir: "/etc/postern", User: "postern"})
	if err != nil {
		t.Fatal(err)
	}
	var c imported
	md, err := toml.Decode(im.Config, &c)
	if err != nil {
		t.Fatalf("config is not TOML: %v\n%s", err, im.Config)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("keys the test does not know: %v", und)
	}
	if c.Hostname != "mx.example.test" || c.DataDir != "/var/lib/postern" || c.MapsDir != "/etc/postern" || c.User != "postern" {
		t.Errorf("top level: %+v", c)
	}
	if strings.Join(c.LocalDomains, ",") != "example.test,mx.example.test" {
		t.Errorf("local_domains %v", c.LocalDomains)
	}
	if strings.Join(c.RelayDomains, ",") != "backup.example.net" {
		t.Errorf("relay_domains %v", c.RelayDomains)
	}
	if strings.Join(c.TrustedNetworks, ",") != "127.0.0.1/32,::1/128,10.1.2.0/24" {
		t.Errorf("trusted_networks %v", c.TrustedNetworks)
	}
	if len(c.Listener) != 2 || c.Listener[0].Address != "127.0.0.1:2525" || c.Listener[0].Mode != "mta" ||
		c.Listener[1].Address != "127.0.0.1:2587" || c.Listener[1].Mode != "submission" {
		t.Errorf("listeners %+v", c.Listener)
	}
	if c.TLS.Cert != "/etc/mail/tls/mx.crt" || c.TLS.Key != "/etc/mail/tls/mx.key" {
		t.Errorf("tls %+v", c.TLS)
	}
	if c.Limits.MaxMessageBytes != 20971520 || c.Limits.MaxRecipients != 50 {
		t.Errorf("limits %+v", c.Limits)
	}
	if d := c.Checks.DNSBL; d.Stage != "connect" || len(d.List) != 1 || d.List[0].Zone != "zen.spamhaus.org" || len(d.List[0].Codes) != 0 ||
		d.List[0].Reply != "" || d.List[0].OnError != "ignore" {
		t.Errorf("dnsbl %+v", d)
	}
	if c.Delivery.Smarthost != "[relay.isp.example]" || len(c.Milter) != 0 {
		t.Errorf("smarthost %q, milters %+v", c.Delivery.Smarthost, c.Milter)
	}
	if !strings.Contains(im.Config, "# from sendmail.mc line 10: define(`SMART_HOST', `[relay.isp.example]')\nsmarthost = ") {
		t.Errorf("smarthost is not commented with its source line:\n%s", im.Config)
	}
	for _, name := range []string{"access", "aliases", "virtusertable", "genericstable", "mailertable"} {
		if im.Maps[name] == "" {
			t.Errorf("map %s not carried over", name)
		}
	}
	access := im.Maps["access"]
	for _, want := range []string{"Connect:192.0.2.0/24\tRELAY", "From:ceo@example.test\tRELAY", "To:partner.example.org\tRELAY",
		"From:spam@example.com\tERROR:5.7.1:550 We do not accept your mail", "# not imported: Connect:trusted.example.test RELAY",
		"# not imported: Spam:abuse@example.test"} {
		if !strings.Contains(access, want) {
			t.Errorf("access lacks %q:\n%s", want, access)
		}
	}
	if m := im.Maps["mailertable"]; !strings.Contains(m, "internal.example.test\tsmtp:[10.1.2.3]") || !strings.Contains(m, "# not imported: old.example.test") {
		t.Errorf("mailertable:\n%s", m)
	}
	notes := func(ns []sendmailcf.Note) string {
		var b strings.Builder
		for _, n := range ns {
			b.WriteString(n.String() + "\n")
		}
		return b.String()
	}
	changed, dropped := notes(im.Changed), notes(im.NotCarried)
	for _, want := range []string{"access:5: ceo@example.test RELAY", "access:6: untagged partner.example.org RELAY written as To:",
		"access:8: value", "relay-domains:1: domain backup.example.net", "relay-domains:2: network 10.1.2", "aliases:6: pipe target",
		"aliases:5: file target", "mailertable:1: esmtp", "sendmail.mc:17: FEATURE(`dnsbl', `zen.spamhaus.org'): sendmail counted any answer"} {
		if !strings.Contains(changed, want) {
			t.Errorf("changed notes lack %q:\n%s", want, changed)
		}
	}
	for _, want := range []string{"sendmail.mc:16: FEATURE(`relay_based_on_MX') is deliberately not carried over",
		"sendmail.mc:18: MAIL_FILTER(`clamav'): not named in confINPUT_MAIL_FILTERS", "access:4: Connect:trusted.example.test",
		"access:10: value FRIEND", "local-host-names:4: address [192.0.2.25]", "mailertable:3: mailer uucp-dom"} {
		if !strings.Contains(dropped, want) {
			t.Errorf("not-carried notes lack %q:\n%s", want, dropped)
		}
	}
}

func TestImportNeedsAConfig(t *testing.T) {
	if _, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: t.TempDir()}); err == nil {
		t.Error("import of an empty directory succeeded")
	}
}

// TestImportCheckServeProbe imports a sendmail setup with the binary, runs
// `postern check` on the result, serves it, and runs the relay probes:
// refused from a stranger, accepted from the trusted host.
func TestImportCheckServeProbe(t *testing.T) {
	bin := audittest.Binary(t)
	audittest.RequireCommand(t, bin, "import-sendmail")
	dir := t.TempDir()
	audittest.OpenTraversal(t, dir)
	etc := filepath.Join(dir, "etc-mail")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := audittest.NewCA(t)
	cert, key := ca.Issue(t, dir, time.Now().Add(30*24*time.Hour), "mx.example.test")
	mta, sub := audittest.FreePort(t), audittest.FreePort(t)
	_, mtaPort, _ := net.SplitHostPort(mta)
	_, subPort, _ := net.SplitHostPort(sub)
	files, _ := filepath.Glob("testdata/import/etc-mail/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("Port=2525", "Port="+mtaPort, "Port=2587", "Port="+subPort,
			"/etc/mail/tls/mx.crt", cert, "/etc/mail/tls/mx.key", key).Replace(string(b))
		if err := os.WriteFile(filepath.Join(etc, filepath.Base(f)), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	audittest.ChownRunAs(t, data)
	args := []string{"import-sendmail", etc, "-out", out, "-data-dir", data, "-hostname", "mx.example.test"}
	if u := audittest.RunAs(); u != "" {
		args = append(args, "-user", u)
	}
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("import-sendmail: %v\n%s", err, b)
	}
	cfg := filepath.Join(out, "postern.toml")
	if notes, err := os.ReadFile(filepath.Join(out, "IMPORT-NOTES.txt")); err != nil || !bytes.Contains(notes, []byte("Not carried over")) {
		t.Errorf("IMPORT-NOTES.txt: %v\n%s", err, notes)
	}
	// A second run refuses to overwrite.
	if err := exec.Command(bin, args...).Run(); err == nil {
		t.Error("import-sendmail overwrote its previous output without -force")
	}

	audittest.RequireCommand(t, bin, "check")
	if b, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		c, _ := os.ReadFile(cfg)
		t.Fatalf("postern check on the imported config: %v\n%s\nconfig:\n%s", err, b, c)
	}

	audittest.RequireCommand(t, bin, "serve")
	// Served here, the imported config resolves through a loopback DNS
	// server and opens no local submission socket.
	pinTestConfig(t, cfg)
	audittest.Serve(t, bin, cfg, mta, sub)
	ctx := t.Context()
	stranger, err := audit.Run(ctx, nil, audit.Options{Target: mta, From: net.ParseIP("127.0.0.2"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if c := stranger.Find("relay.open"); c == nil || c.Status == audit.Fail || c.Status == audit.Skip {
		t.Errorf("imported config relays for a stranger: %+v", c)
	}
	trusted, err := audit.Run(ctx, nil, audit.Options{Target: mta, From: net.ParseIP("127.0.0.1"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("from a stranger: %s", stranger.Find("relay.open").Detail)
	if c := trusted.Find("relay.open"); c == nil || c.Status != audit.Fail {
		t.Errorf("the imported trust of 127.0.0.1 is not in force: %+v", c)
	}
}

// TestLintSendmailCommand runs the binary on lint cases: exit status by
// the worst finding, JSON output, and a directory argument.
func TestLintSendmailCommand(t *testing.T) {
	bin := audittest.Binary(t)
	audittest.RequireCommand(t, bin, "lint-sendmail")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"testdata/lint/hardened"}, 0, "0 finding(s)"},
		{[]string{"testdata/lint/privacy-partial/sendmail.mc"}, 1, "sendmail.mc:3: warn [privacy-options]"},
		{[]string{"testdata/lint/relay-features/sendmail.mc", "-json"}, 2, `"rule": "promiscuous-relay"`},
		{[]string{"-config", "/dev/null", "testdata/lint/broad-access/sendmail.mc", "testdata/lint/broad-access/access", "testdata/lint/broad-access/relay-domains"}, 2, "access:10: fail [access-from-relay]"},
		{[]string{"testdata/lint/missing.mc"}, 2, ""},
	} {
		out, err := exec.Command(bin, append([]string{"lint-sendmail"}, c.args...)...).Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("lint-sendmail %v: exit %d, want %d; output lacks %q:\n%s", c.args, code, c.code, c.want, out)
		}
	}
}

// TestImportDebianDefault imports Debian's shipped sendmail.mc alone.
func TestImportDebianDefault(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/lint/debian-default/sendmail.mc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sendmail.mc"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: dir, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	var c imported
	if _, err := toml.Decode(im.Config, &c); err != nil {
		t.Fatalf("%v\n%s", err, im.Config)
	}
	if len(c.Listener) != 2 || c.Listener[0].Address != "127.0.0.1:25" || c.Listener[0].Mode != "mta" ||
		c.Listener[1].Address != "127.0.0.1:587" || c.Listener[1].Mode != "submission" {
		t.Errorf("listeners %+v", c.Listener)
	}
	if c.Hostname != "mx.example.test" || c.TLS.Cert != "" || len(im.Maps) != 0 {
		t.Errorf("config %+v, maps %v", c, im.Maps)
	}
}

// pinTestConfig adds what a test server needs and an imported config
// leaves to the admin: a loopback DNS server and no local socket.
func pinTestConfig(t *testing.T, cfg string) {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "[dns]") {
		s += fmt.Sprintf("\n[dns]\nservers = [%q]\n", dnstest.Start(t, nil).Addr)
	}
	if !strings.Contains(s, "[local]") {
		s += "\n[local]\nsocket = \"\"\n"
	}
	if err := os.WriteFile(cfg, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImportSettings imports a sendmail.mc with SMART_HOST, LUSER_RELAY,
// two input milters, one milter not used for input, and limits.
func TestImportSettings(t *testing.T) {
	im, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: "testdata/import/settings", Hostname: "fallback.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	var c imported
	md, err := toml.Decode(im.Config, &c)
	if err != nil {
		t.Fatalf("config is not TOML: %v\n%s", err, im.Config)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("keys the test does not know: %v", und)
	}
	if c.Delivery.Smarthost != "[smtp.provider.example]" || c.Delivery.LuserRelay != "postmaster" {
		t.Errorf("delivery %+v", c.Delivery)
	}
	if c.Limits.MaxMessageBytes != 10485760 || c.Limits.MaxRecipients != 250 {
		t.Errorf("limits %+v", c.Limits)
	}
	if m := c.Delivery.Masquerade; m.MasqueradeAs != "example.test" || strings.Join(m.MasqueradeDomains, ",") != "branch.example.test,gw.example.test" ||
		m.MasqueradeEntireDomain || strings.Join(m.MasqueradeExposed, ",") != "root,postmaster" {
		t.Errorf("masquerading %+v", m)
	}
	if len(c.Milter) != 2 {
		t.Fatalf("milters %+v", c.Milter)
	}
	if m := c.Milter[0]; m.Name != "clamav" || m.Socket != "unix:/run/clamav/clamav-milter.ctl" || m.Flags != "T" || m.Timeouts != "C:5m;S:4m;R:4m;E:10m" {
		t.Errorf("first milter %+v", m)
	}
	if m := c.Milter[1]; m.Name != "opendkim" || m.Socket != "inet:127.0.0.1:8891" || m.Flags != "" || m.Timeouts != "C:5m;S:10s;R:10s;E:5m" {
		t.Errorf("second milter %+v", m)
	}
	// Each value names the sendmail.mc line it came from.
	for _, want := range []string{
		"# from sendmail.mc line 9: define(`SMART_HOST', `esmtp:[smtp.provider.example]')\nsmarthost = ",
		"# from sendmail.mc line 10: define(`LUSER_RELAY', `local:postmaster')\nluser_relay = ",
		"# from sendmail.mc line 7: define(`confMAX_MESSAGE_SIZE', `10485760')\nmax_message_bytes = ",
		"# from sendmail.mc line 8: define(`confMAX_RCPTS_PER_MESSAGE', `250')\nmax_recipients = ",
		"# from sendmail.mc line 13: INPUT_MAIL_FILTER(`clamav', `S=local:/run/clamav/clamav-milter.ctl, F=T, T=S:4m;R:4m;E:10m')\n[[milter]]",
		"# from sendmail.mc line 14: INPUT_MAIL_FILTER(`opendkim', `S=inet:8891@127.0.0.1')\n[[milter]]",
	} {
		if !strings.Contains(im.Config, want) {
			t.Errorf("config lacks %q:\n%s", want, im.Config)
		}
	}
	var dropped, changed strings.Builder
	for _, n := range im.NotCarried {
		dropped.WriteString(n.String() + "\n")
	}
	for _, n := range im.Changed {
		changed.WriteString(n.String() + "\n")
	}
	if !strings.Contains(dropped.String(), "sendmail.mc:12: MAIL_FILTER(`archive'): not named in confINPUT_MAIL_FILTERS") {
		t.Errorf("the unused MAIL_FILTER is not listed:\n%s", dropped.String())
	}
	for _, s := range []string{"SMART_HOST", "LUSER_RELAY", "confMAX", "clamav", "opendkim"} {
		if strings.Contains(dropped.String(), s) {
			t.Errorf("%s is written but also listed as not carried over:\n%s", s, dropped.String())
		}
	}
	if changed.String() != "sendmail.mc:19: FEATURE(`enhdnsbl', `bl.spamcop.net', `\"550 Spam blocked see: http://www.spamcop.net/bl.shtml?\" $&{client_addr}', `t', `127.0.0.2.'): sendmail asked about IPv4 clients only; postern asks about IPv6 clients too\n" {
		t.Errorf("changed notes for settings carried over as they were:\n%s", changed.String())
	}
	if d := c.Checks.DNSBL; d.Stage != "connect" || len(d.List) != 1 || d.List[0].Zone != "bl.spamcop.net" || strings.Join(d.List[0].Codes, ",") != "127.0.0.2" ||
		d.List[0].Reply != "Spam blocked see: http://www.spamcop.net/bl.shtml?{ip}" || d.List[0].OnError != "tempfail" {
		t.Errorf("dnsbl %+v", d)
	}
}

// TestImportSettingsListed imports values postern cannot express: each is
// listed with its reason and nothing is written for it.
func TestImportSettingsListed(t *testing.T) {
	dir := t.TempDir()
	mc := "define(`SMART_HOST', `relay:[a.example]:[b.example]')dnl\n" +
		"define(`LUSER_RELAY', `mailhub.example.test')dnl\n" +
		"define(`confMAX_MESSAGE_SIZE', `0')dnl\n" +
		"define(`confMAX_RCPTS_PER_MESSAGE', `0')dnl\n" +
		"INPUT_MAIL_FILTER(`x', `S=local:/run/x.sock, F=T, T=E:2d')dnl\n" +
		"MASQUERADE_AS(`Example.Test')dnl\nMASQUERADE_DOMAIN_FILE(`/etc/mail/masq')dnl\nFEATURE(`masquerade_entire_domain')dnl\nFEATURE(`allmasquerade')dnl\n"
	if err := os.WriteFile(filepath.Join(dir, "sendmail.mc"), []byte(mc), 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: dir, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	var c imported
	if _, err := toml.Decode(im.Config, &c); err != nil {
		t.Fatalf("%v\n%s", err, im.Config)
	}
	// Masquerading is written; sendmail exposes nobody by default.
	if m := c.Delivery.Masquerade; m.MasqueradeAs != "example.test" || !m.MasqueradeEntireDomain || m.MasqueradeExposed == nil || len(m.MasqueradeExposed) != 0 {
		t.Errorf("masquerading %+v\n%s", m, im.Config)
	}
	var changed strings.Builder
	for _, n := range im.Changed {
		changed.WriteString(n.String() + "\n")
	}
	for _, want := range []string{"sendmail.mc:6: MASQUERADE_AS example.test: sendmail masqueraded header addresses only", "sendmail.mc:8: FEATURE(`masquerade_entire_domain')"} {
		if !strings.Contains(changed.String(), want) {
			t.Errorf("changed notes lack %q:\n%s", want, changed.String())
		}
	}
	if c.Delivery.Smarthost != "" || c.Delivery.LuserRelay != "" || c.Limits.MaxMessageBytes != 0 || c.Limits.MaxRecipients != 0 || len(c.Milter) != 0 {
		t.Errorf("values written that postern cannot express:\n%s", im.Config)
	}
	var dropped strings.Builder
	for _, n := range im.NotCarried {
		dropped.WriteString(n.String() + "\n")
	}
	for _, want := range []string{
		"sendmail.mc:1: SMART_HOST relay:[a.example]:[b.example]: not written: ",
		"sendmail.mc:2: LUSER_RELAY mailhub.example.test: not written: ",
		"sendmail.mc:3: confMAX_MESSAGE_SIZE 0: not written: sendmail takes 0 or less as no limit",
		"sendmail.mc:4: confMAX_RCPTS_PER_MESSAGE 0: not written: ",
		"sendmail.mc:5: INPUT_MAIL_FILTER(`x', `S=local:/run/x.sock, F=T, T=E:2d'): not written as a [[milter]]",
		"sendmail.mc:7: MASQUERADE_DOMAIN_FILE(/etc/mail/masq): not carried over",
		"sendmail.mc:9: FEATURE(`allmasquerade'): postern masquerades the sender",
	} {
		if !strings.Contains(dropped.String(), want) {
			t.Errorf("not-carried notes lack %q:\n%s", want, dropped.String())
		}
	}
}

// TestImportSettingsCheck imports the settings example with the binary and
// runs `postern check` on the result.
func TestImportSettingsCheck(t *testing.T) {
	bin := audittest.Binary(t)
	audittest.RequireCommand(t, bin, "import-sendmail")
	audittest.RequireCommand(t, bin, "check")
	dir := t.TempDir()
	audittest.OpenTraversal(t, dir)
	out, data := filepath.Join(dir, "out"), filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	audittest.ChownRunAs(t, data)
	args := []string{"import-sendmail", "testdata/import/settings", "-out", out, "-data-dir", data, "-hostname", "gw.example.test"}
	if u := audittest.RunAs(); u != "" {
		args = append(args, "-user", u)
	}
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("import-sendmail: %v\n%s", err, b)
	}
	cfg := filepath.Join(out, "postern.toml")
	b, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput()
	c, _ := os.ReadFile(cfg)
	if err != nil {
		t.Fatalf("postern check on the imported config: %v\n%s\nconfig:\n%s", err, b, c)
	}
	for _, want := range []string{"smarthost = \"[smtp.provider.example]\"", "luser_relay = \"postmaster\"", "name = \"clamav\"", "name = \"opendkim\""} {
		if !bytes.Contains(c, []byte(want)) {
			t.Errorf("imported config lacks %s:\n%s", want, c)
		}
	}
	t.Logf("postern check:\n%s", b)
}

// TestImportSettingsMatchM4 builds the settings example with sendmail's
// own m4 files (Debian's sendmail-cf, unpacked by .ci/run) and checks
// that the importer read the same smart host, luser relay and input
// filter order as m4 put into the sendmail.cf.
func TestImportSettingsMatchM4(t *testing.T) {
	root := os.Getenv("POSTERN_SENDMAIL_ROOT")
	if root == "" {
		root = "/var/cache/postern-test/sendmail/root"
	}
	m4, cf := filepath.Join(root, "usr/bin/m4"), filepath.Join(root, "usr/share/sendmail/cf")
	for _, p := range []string{m4, filepath.Join(cf, "m4/cf.m4")} {
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "sendmail-cf and m4 unpacked under %s (see .ci/run): %v", root, err)
		}
	}
	cmd := exec.Command(m4, "-D_CF_DIR_="+cf+"/", filepath.Join(cf, "m4/cf.m4"), "testdata/import/settings/sendmail.mc")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("m4: %v\n%s", err, stderr.String())
	}
	built, err := sendmailcf.ParseCF("sendmail.cf", string(out))
	if err != nil {
		t.Fatal(err)
	}
	im, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: "testdata/import/settings"})
	if err != nil {
		t.Fatal(err)
	}
	var c imported
	if _, err := toml.Decode(im.Config, &c); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range c.Milter {
		names = append(names, m.Name)
	}
	if got, want := strings.Join(names, ", "), built.Options["InputMailFilters"].Value; got != want {
		t.Errorf("milters written %q, sendmail.cf InputMailFilters %q", got, want)
	}
	if built.SmartHost.Value != "esmtp:[smtp.provider.example]" || built.LuserRelay.Value != "local:postmaster" {
		t.Errorf("sendmail.cf DS %q DL %q", built.SmartHost.Value, built.LuserRelay.Value)
	}
	if built.Options["MaxMessageSize"].Value != "10485760" || built.Options["MaxRecipientsPerMessage"].Value != "250" {
		t.Errorf("sendmail.cf limits %+v %+v", built.Options["MaxMessageSize"], built.Options["MaxRecipientsPerMessage"])
	}
	// The .cf itself imports to the same smart host, luser relay and
	// limits; its milters are listed for the admin.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sendmail.cf"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	fromCF, err := sendmailcf.Import(sendmailcf.ImportOptions{Dir: dir, Hostname: "gw.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	var cc imported
	if _, err := toml.Decode(fromCF.Config, &cc); err != nil {
		t.Fatal(err)
	}
	if cc.Delivery.Smarthost != c.Delivery.Smarthost || cc.Delivery.LuserRelay != c.Delivery.LuserRelay || cc.Limits != c.Limits {
		t.Errorf("from the .cf: %+v %+v; from the .mc: %+v %+v", cc.Delivery, cc.Limits, c.Delivery, c.Limits)
	}
	var dropped strings.Builder
	for _, n := range fromCF.NotCarried {
		dropped.WriteString(n.String() + "\n")
	}
	if !strings.Contains(dropped.String(), "InputMailFilters clamav, opendkim: the milters of a sendmail.cf") ||
		!strings.Contains(dropped.String(), "masquerading ($M example.test) of a sendmail.cf is not carried over") {
		t.Errorf("the .cf's milters are not listed:\n%s", dropped.String())
	}
}
