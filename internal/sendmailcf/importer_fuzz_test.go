package sendmailcf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"postern/internal/deliver"
	"postern/internal/milter/spec"
)

// FuzzImportMaps feeds arbitrary text to the map converters: no panic,
// every input line ends up either converted, commented out or noted.
func FuzzImportMaps(f *testing.F) {
	f.Add("Connect:10 RELAY\nFrom:a@b RELAY\nexample.org RELAY\nx 550 no\nSpam:y FRIEND\n")
	f.Add("a: |/bin/prog, /tmp/file, :include:/etc/x\n  b, c\n")
	f.Add("example.org esmtp:[10.0.0.1]\n.example.org uucp:x\nbad\n")
	f.Fuzz(func(t *testing.T, src string) {
		im := &Imported{Maps: map[string]string{}}
		access := convertAccess(src, im)
		mailertable := convertMailertable(src, im)
		noteAliases(src, im)
		entries, errs := ReadMap(src)
		out := access + mailertable
		for _, e := range entries {
			if !strings.Contains(out, e.Key) {
				t.Fatalf("entry %q lost:\n%s", e.Raw, out)
			}
		}
		if len(errs) > 0 && len(im.NotCarried) < len(errs) {
			t.Fatalf("%d bad lines but %d notes", len(errs), len(im.NotCarried))
		}
		toCIDR(src)
		tomlString(src)
	})
}

// FuzzImportSettings feeds arbitrary values to the SMART_HOST,
// LUSER_RELAY, mail filter and limit converters, and arbitrary .mc text to
// the whole import: no panic, every value written is one postern takes,
// and the config stays TOML whatever the .mc holds.
func FuzzImportSettings(f *testing.F) {
	for _, s := range []string{"relay:[mail.example.com]", "esmtp:[mail.example.com]:587", "smtp:a.example:b.example",
		"[IPv6:2001:db8::1]", "local:postmaster", "local:u@h.example", "relay:u@h.example", "error:5.1.1:550 no",
		"S=local:/run/x.sock, F=T, T=S:4m;R:4m;E:10m", "S=inet6:8891@[::1], F=R, T=C:0", "65536", "0"} {
		f.Add(s)
	}
	f.Add("INPUT_MAIL_FILTER(`a', `S=unix:/a, F=T')\nMAIL_FILTER(`b', `S=inet:1@h')\ndefine(`confINPUT_MAIL_FILTERS', `b, a')\n" +
		"define(`SMART_HOST', `relay:[x.example]')\ndefine(`LUSER_RELAY', `local:root')\ndefine(`confMAX_MESSAGE_SIZE', `100000')\n")
	f.Add("define(`SMART_HOST', `a\nb')\nINPUT_MAIL_FILTER(`x\ny', `S=unix:/z\n')\n")
	f.Add("FEATURE(`delay_checks')\nFEATURE(`dnsbl', `a.example', `\"550 x \" $&{client_addr}', `t')\nFEATURE(`enhdnsbl', `b.example', `', `', `127.0.0.$-.', `127.0.0.2.')\n")
	f.Add("MASQUERADE_AS(`example.test')\nMASQUERADE_DOMAIN(`a.example b\"x')\nEXPOSED_USER(`root a,b')\nFEATURE(`masquerade_entire_domain')\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in string) {
		if v, err := smartHost(in, ""); err == nil {
			if _, err := deliver.ParseHop(v); err != nil {
				t.Fatalf("smartHost(%q) = %q, which postern refuses: %v", in, v, err)
			}
		}
		if v, err := luserRelay(in); err == nil && (v == "" || strings.ContainsAny(v, " \t,<>\"\n") || strings.Count(v, "@") > 1) {
			t.Fatalf("luserRelay(%q) = %q", in, v)
		}
		if m, err := parseMailFilter("f", in); err == nil {
			if _, err := spec.ParseSocket(m.socket); err != nil {
				t.Fatalf("%q: socket %q: %v", in, m.socket, err)
			}
			if _, err := spec.ParseFlags(m.flags); err != nil {
				t.Fatalf("%q: flags %q: %v", in, m.flags, err)
			}
			if _, err := spec.ParseTimeouts(m.timeouts); err != nil || strings.Count(m.timeouts, ";") != 3 {
				t.Fatalf("%q: timeouts %q: %v", in, m.timeouts, err)
			}
		}
		if n, err := messageSizeLimit(in); err == nil && n < 65536 {
			t.Fatalf("messageSizeLimit(%q) = %d", in, n)
		}
		if n, err := recipientLimit(in); err == nil && n < 1 {
			t.Fatalf("recipientLimit(%q) = %d", in, n)
		}
		if err := os.WriteFile(filepath.Join(dir, "sendmail.mc"), []byte(in), 0o600); err != nil {
			t.Fatal(err)
		}
		im, err := Import(ImportOptions{Dir: dir, Hostname: "mx.example.test"})
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Milter []struct{ Name string } `toml:"milter"`
		}
		if _, err := toml.Decode(im.Config, &c); err != nil {
			t.Fatalf("config is not TOML: %v\n%s", err, im.Config)
		}
		names := map[string]bool{}
		for _, m := range c.Milter {
			if names[m.Name] {
				t.Fatalf("milter %q written twice:\n%s", m.Name, im.Config)
			}
			names[m.Name] = true
		}
	})
}
