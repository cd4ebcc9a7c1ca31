package sendmailcf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseM4(t *testing.T) {
	cases := []struct {
		src  string
		want []Call
		err  string
	}{
		{"FEATURE(`access_db')dnl\n", []Call{{"FEATURE", []string{"access_db"}, 1}}, ""},
		{"FEATURE(relay_based_on_MX)", []Call{{"FEATURE", []string{"relay_based_on_MX"}, 1}}, ""},
		{"dnl FEATURE(`promiscuous_relay')\n", nil, ""},
		{"# FEATURE(`promiscuous_relay')\n", nil, ""},
		{"`FEATURE(`promiscuous_relay')'", nil, ""},
		{"define(`confX',dnl\n`a,b')dnl\n", []Call{{"define", []string{"confX", "a,b"}, 1}}, ""},
		{"\n\nDAEMON_OPTIONS(`Port=smtp, Addr=127.0.0.1')", []Call{{"DAEMON_OPTIONS", []string{"Port=smtp, Addr=127.0.0.1"}, 3}}, ""},
		{"FEATURE(`mailertable', `hash -o /etc/mail/mailertable')", []Call{{"FEATURE", []string{"mailertable", "hash -o /etc/mail/mailertable"}, 1}}, ""},
		{"FEATURE(  `a'  ,   `b')", []Call{{"FEATURE", []string{"a", "b"}, 1}}, ""},
		{"MAILER_DEFINITIONS\nMAILER(local)", []Call{{"MAILER_DEFINITIONS", nil, 1}, {"MAILER", []string{"local"}, 2}}, ""},
		{"define(`x', `f(a, b)')", []Call{{"define", []string{"x", "f(a, b)"}, 1}, {"f", []string{"a", "b"}, 1}}, ""},
		{"ifdef(`X', `FEATURE(`y')', `')", []Call{{"ifdef", []string{"X", "FEATURE(`y')", ""}, 1}, {"FEATURE", []string{"y"}, 1}}, ""},
		{"FEATURE(`a'", nil, "unterminated"},
		{"define(`a", nil, "unterminated quote"},
		{"notacall and words", nil, ""},
	}
	for _, c := range cases {
		got, err := ParseM4(c.src)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.src, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", c.src, got, c.want)
		}
	}
}

func TestReadMap(t *testing.T) {
	src := "# c\n\nConnect:192.0.2 RELAY\nFrom:a@b.example\tERROR:5.7.1:550 no\nIPv6:2001:db8::1 OK\nnovalue\nexample.org REJECT\n"
	entries, errs := ReadMap(src)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 6") {
		t.Errorf("errs = %v", errs)
	}
	want := []Entry{
		{Line: 3, Tag: "Connect", Key: "192.0.2", Value: "RELAY", Raw: "Connect:192.0.2 RELAY"},
		{Line: 4, Tag: "From", Key: "a@b.example", Value: "ERROR:5.7.1:550 no", Raw: "From:a@b.example\tERROR:5.7.1:550 no"},
		{Line: 5, Tag: "", Key: "IPv6:2001:db8::1", Value: "OK", Raw: "IPv6:2001:db8::1 OK"},
		{Line: 7, Tag: "", Key: "example.org", Value: "REJECT", Raw: "example.org REJECT"},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("got %#v", entries)
	}
}

func TestNetworkKey(t *testing.T) {
	cases := []struct {
		key  string
		addr bool
		bits int
	}{
		{"10", true, 8}, {"192.168", true, 16}, {"192.0.2", true, 24}, {"192.0.2.1", true, 32},
		{"198.51.100.0/22", true, 22}, {"IPv6:2001:db8", true, 32}, {"IPv6:2001:db8::/48", true, 48},
		{"IPv6:2001:db8::1", true, 128}, {"example.org", false, -1}, {"256.1", false, -1}, {"localhost", false, -1},
	}
	for _, c := range cases {
		a, b := NetworkKey(c.key)
		if a != c.addr || b != c.bits {
			t.Errorf("%s: %v %d, want %v %d", c.key, a, b, c.addr, c.bits)
		}
	}
}

// FuzzLintMC runs the parser and linter on arbitrary .mc text: no panic,
// and every finding names a rule and a fix.
func FuzzLintMC(f *testing.F) {
	files, _ := filepath.Glob("testdata/lint/*/sendmail.mc")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Add("FEATURE(`promiscuous_relay')dnl\n")
	f.Add("define(`confAUTH_MECHANISMS', `PLAIN')TRUST_AUTH_MECH(`PLAIN')")
	f.Add("ifdef(`a', `ifdef(`b', `FEATURE(`c')')')")
	f.Fuzz(func(t *testing.T, src string) {
		cfg, _ := ParseMC("sendmail.mc", src)
		if cfg == nil {
			t.Fatal("nil config")
		}
		entries, _ := ReadMap(src)
		for _, fd := range Lint(Input{Config: cfg, AccessFile: "access", Access: entries, RelayFile: "relay-domains", RelayDomains: ReadList(src)}) {
			if fd.Rule == "" || fd.Fix == "" {
				t.Fatalf("finding without rule or fix: %+v", fd)
			}
		}
	})
}
