package config

import (
	"strings"
	"testing"
)

func TestRouteErrors(t *testing.T) {
	testProblems(t, []problemTest{
		{"luser list", "[delivery]\nluser_relay = \"a@b.test, c@d.test\"\n", 2, "delivery.luser_relay"},
		{"luser domain", "[delivery]\nluser_relay = \"a@bad domain\"\n", 2, "delivery.luser_relay"},
		{"luser at only", "[delivery]\nluser_relay = \"@example.test\"\n", 2, "want one address"},
		{"forward relative", "[delivery]\nforward_path = [\".forward\"]\n", 2, "want an absolute path"},
		{"forward variable", "[delivery]\nforward_path = [\"$home/.forward-$domain\"]\n", 2, "only $home and $user"},
		{"masquerade_as", "[delivery]\nmasquerade_as = \"not a domain\"\n", 2, "delivery.masquerade_as"},
		{"masquerade_domains", "[delivery]\nmasquerade_as = \"example.test\"\nmasquerade_domains = [\"bad domain\"]\n", 3, "delivery.masquerade_domains"},
		{"generics_domains", "[delivery]\ngenerics_domains = [\"x..y\"]\n", 2, "delivery.generics_domains"},
	})
}

func TestRouteKeys(t *testing.T) {
	p := writeConfig(t, `user = "nobody"
allow_sender_relay = true
[delivery]
luser_relay = "Catch@Example.TEST."
forward_path = ["$home/.forward", "/etc/forward/$user"]
allow_alias_files = true
allow_alias_commands = true
masquerade_as = "Example.TEST"
masquerade_domains = ["branch.example.test"]
generics_domains = ["example.test"]
`)
	c, warnings, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Delivery.DeliveryRoute
	if r.LuserRelay != "Catch@example.test" || r.MasqueradeAs != "example.test" || len(r.ForwardPath) != 2 ||
		!r.AllowAliasFiles || !r.AllowAliasCommands || !c.AllowSenderRelay || r.GenericsDomains[0] != "example.test" {
		t.Errorf("route keys: %+v allow_sender_relay=%v", r, c.AllowSenderRelay)
	}
	if got := r.Exposed(); len(got) != 1 || got[0] != "root" {
		t.Errorf("exposed users by default: %v", got)
	}
	var w []string
	for _, x := range warnings {
		w = append(w, x.String())
	}
	all := strings.Join(w, "\n")
	for _, want := range []string{"allow_sender_relay", "allow_alias_commands"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning about %s in:\n%s", want, all)
		}
	}
	c, _, err = Load(writeConfig(t, "user = \"nobody\"\n[delivery]\nmasquerade_exposed = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Delivery.Exposed(); len(got) != 0 {
		t.Errorf("masquerade_exposed = [] gives %v", got)
	}
}
