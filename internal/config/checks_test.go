package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// problemTest is a configuration text (after a line user = "nobody")
// that Load refuses with a problem whose message has msg, at line of
// the text.
type problemTest struct {
	name, text string
	line       int
	msg        string
}

// testProblems runs each test as a subtest.
func testProblems(t *testing.T, tests []problemTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, "user = \"nobody\"\n"+tt.text)
			_, _, err := Load(p)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load: %v, want problems", err)
			}
			for _, pr := range ce.Problems {
				if strings.Contains(pr.Msg, tt.msg) {
					if pr.Line != tt.line+1 {
						t.Errorf("%q at line %d, want %d", pr.Msg, pr.Line, tt.line+1)
					}
					return
				}
			}
			t.Errorf("problems %v lack %q", ce.Problems, tt.msg)
		})
	}
}

func TestChecksErrors(t *testing.T) {
	testProblems(t, []problemTest{
		{"stage", "[checks.dnsbl]\nstage = \"helo\"\n", 2, `checks.dnsbl.stage "helo"`},
		{"no zone", "[[checks.dnsbl.list]]\ncodes = [\"127.0.0.2\"]\n", 1, "zone is missing"},
		{"bad zone", "[[checks.dnsbl.list]]\nzone = \"bl example\"\n", 2, "not allowed in a DNS name"},
		{"bad codes", "[[checks.dnsbl.list]]\nzone = \"bl.example\"\ncodes = [\"127.0.0.[9-2]\"]\n", 3, "runs backwards"},
		{"bad reply", "[[checks.dnsbl.list]]\nzone = \"bl.example\"\nreply = \"a\\tb\"\n", 3, "control"},
		{"on_error", "[[checks.dnsbl.list]]\nzone = \"bl.example\"\non_error = \"defer\"\n", 3, `on_error "defer"`},
		{"rdns", "[checks.rdns]\npolicy = \"drop\"\n", 2, `checks.rdns.policy "drop"`},
		{"helo", "[checks.helo]\nlevel = \"paranoid\"\n", 2, `checks.helo.level "paranoid"`},
		{"pause", "[checks.early_talker]\npause = \"soon\"\n", 2, `is not "off" or a duration`},
		{"long pause", "[checks.early_talker]\npause = \"2m\"\n", 2, "longer than 1m0s"},
		{"window", "[checks.greylist]\ndelay = \"1h\"\nretry_window = \"30m\"\n", 3, "must be longer than the delay"},
		{"listener name", "[[checks.listener]]\nname = \"nosuch\"\n", 2, `no listener named "nosuch"`},
		{"listener on/off", "[[checks.listener]]\nname = \"mta\"\ndnsbl = \"yes\"\n", 3, `checks.listener[0].dnsbl "yes"`},
		{"listener twice", "[[checks.listener]]\nname = \"mta\"\n[[checks.listener]]\nname = \"mta\"\n", 4, "two [[checks.listener]]"},
		{"allow", "[checks]\nallow = [\"nonsense\"]\n", 2, "checks.allow"},
	})
}

func TestListenerChecks(t *testing.T) {
	p := writeConfig(t, `user = "nobody"
[[listener]]
address = "127.0.0.1:25"
mode = "mta"
[[listener]]
name = "mx2"
address = "127.0.0.1:26"
mode = "mta"
[[listener]]
address = "127.0.0.1:587"
mode = "submission"
[[listener]]
name = "sub2"
address = "127.0.0.1:588"
mode = "submission"

[checks.greylist]
enabled = true
delay = "1s"
[[checks.dnsbl.list]]
zone = "bl.example"
[[checks.listener]]
name = "mx2"
rdns = "reject"
early_talker = "off"
helo = "strict"
dnsbl = "off"
greylist = "off"
[[checks.listener]]
name = "sub2"
helo = "normal"
early_talker = "3s"
`)
	c, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ListenerChecks{
		"mta":        {DNSBL: true, RDNS: "tag", GreetPause: time.Second, Helo: "syntax", Greylist: true},
		"mx2":        {DNSBL: false, RDNS: "reject", GreetPause: 0, Helo: "strict", Greylist: false},
		"submission": {RDNS: "off", Helo: "off"},
		"sub2":       {RDNS: "off", GreetPause: 3 * time.Second, Helo: "normal"},
	}
	for _, l := range c.Listeners {
		if got := c.ListenerChecks(l); got != want[l.Name] {
			t.Errorf("%s: %s, want %s", l.Name, got, want[l.Name])
		}
	}
	g := c.Checks.GreylistSettings()
	if g.Delay != time.Second || g.RetryWindow != DefaultGreylistRetry || g.AutoAllowAfter != DefaultGreylistAutoPass {
		t.Errorf("greylist settings %+v", g)
	}
	if c.Checks.GreetRemember() != DefaultGreetRemember {
		t.Errorf("remember %s", c.Checks.GreetRemember())
	}
}
