package sendmailcf

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected findings of the lint cases")

// lintDir lints one testdata case: a directory with sendmail.mc or
// sendmail.cf and optionally access and relay-domains.
func lintDir(t *testing.T, dir string) []Finding {
	t.Helper()
	in := Input{}
	for _, name := range []string{"sendmail.mc", "sendmail.cf"} {
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		cfg, err := Parse(name, string(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		in.Config = cfg
	}
	if src, err := os.ReadFile(filepath.Join(dir, "access")); err == nil {
		entries, errs := ReadMap(string(src))
		if len(errs) > 0 {
			t.Fatalf("access: %v", errs)
		}
		in.AccessFile, in.Access = "access", entries
	}
	if src, err := os.ReadFile(filepath.Join(dir, "relay-domains")); err == nil {
		in.RelayFile, in.RelayDomains = "relay-domains", ReadList(string(src))
	}
	return Lint(in)
}

// TestLintCases checks every case under testdata/lint against its
// expected.txt: one finding per block (file:line: severity [rule]
// message, then the fix).
func TestLintCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/lint/*")
	if err != nil || len(dirs) < 10 {
		t.Fatalf("lint cases: %v (%d)", err, len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var b strings.Builder
			for _, f := range lintDir(t, dir) {
				if f.Fix == "" || f.Message == "" || f.Rule == "" {
					t.Errorf("finding without rule, message or fix: %+v", f)
				}
				b.WriteString(f.String() + "\n")
			}
			got := b.String()
			exp := filepath.Join(dir, "expected.txt")
			if *update {
				if err := os.WriteFile(exp, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(exp)
			if err != nil {
				t.Fatalf("%v (run with -update to create it, then review it)", err)
			}
			if got != string(want) {
				t.Errorf("findings differ from %s\n--- got\n%s--- want\n%s", exp, got, want)
			}
		})
	}
}

// TestLintRules names the rule each case must (and must not) produce, so
// that a wrong expected.txt cannot hide a missed finding.
func TestLintRules(t *testing.T) {
	cases := []struct {
		dir     string
		want    []string // "line rule"
		notWant []string // rules that must not appear
	}{
		{"hardened", nil, []string{"*"}},
		{"checklist-msa", nil, []string{"*"}},
		{"relay-features", []string{"5 promiscuous-relay", "6 relay-entire-domain", "7 relay-based-on-mx", "8 relay-local-from",
			"9 relay-mail-from", "10 loose-relay-check", "11 accept-unresolvable-domains", "12 accept-unqualified-senders"}, []string{"privacy-options", "ident-lookups"}},
		{"auth-plaintext", []string{"5 auth-plaintext"}, []string{"privacy-options"}},
		{"privacy-partial", []string{"3 privacy-options"}, []string{"auth-plaintext"}},
		{"dontblame-ident", []string{"3 dont-blame-sendmail", "4 ident-lookups", "6 forward-path"}, nil},
		{"msa-all-addresses", []string{"0 default-msa", "8 msa-all-addresses", "0 no-starttls-cert"}, nil},
		{"msp-in-mta", []string{"3 msp-in-mta"}, nil},
		{"broad-access", []string{"3 access-relay-hostname", "4 access-relay-broad-network", "5 access-relay-broad-network",
			"7 access-relay-broad-network", "9 access-relay-broad-network", "10 access-from-relay",
			"11 access-from-relay", "13 access-relay-hostname", "2 relay-domains-hostname", "3 relay-domains-hostname", "4 relay-domains-network"}, []string{"promiscuous-relay"}},
		{"banner-forward", []string{"3 banner-version", "0 forward-path", "0 privacy-options", "0 ident-lookups", "0 no-starttls-cert"}, []string{"default-msa"}},
		{"nested-ifdef", []string{"4 relay-entire-domain", "8 no-starttls-cert"}, nil},
		{"cf-generated", []string{"0 cf-features-unreadable", "7 privacy-options", "9 auth-plaintext", "10 ident-lookups", "11 forward-path", "17 banner-version"}, []string{"dont-blame-sendmail", "no-starttls-cert", "msa-all-addresses"}},
		{"cf-with-features", []string{"6 promiscuous-relay", "8 relay-based-on-mx"}, []string{"cf-features-unreadable", "default-msa", "ident-lookups", "privacy-options"}},
		{"debian-default", []string{"0 ident-lookups", "0 forward-path", "0 no-starttls-cert", "62 privacy-options"}, []string{"default-msa", "msa-all-addresses", "promiscuous-relay"}},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			got := map[string]bool{}
			rules := map[string]bool{}
			for _, f := range lintDir(t, filepath.Join("testdata/lint", c.dir)) {
				got[strconv.Itoa(f.Line)+" "+f.Rule] = true
				rules[f.Rule] = true
			}
			for _, w := range c.want {
				if !got[w] {
					t.Errorf("missing finding %q; got %v", w, got)
				}
			}
			for _, n := range c.notWant {
				if n == "*" && len(got) > 0 {
					t.Errorf("want no findings, got %v", got)
				}
				if rules[n] {
					t.Errorf("unexpected rule %s", n)
				}
			}
		})
	}
}
