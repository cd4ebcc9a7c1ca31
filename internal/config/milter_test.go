package config

import (
	"strings"
	"testing"
)

const milterBase = `hostname = "mx.example.test"
data_dir = "/var/lib/postern"
user = ""

[[listener]]
address = "127.0.0.1:25"
mode = "mta"

[[listener]]
name = "sub"
address = "127.0.0.1:587"
mode = "submission"
`

func TestMilterConfig(t *testing.T) {
	p := writeConfig(t, milterBase+`
[[milter]]
name = "opendkim"
socket = "inet:8891@127.0.0.1"
flags = "T"
timeouts = "C:5s;E:2m"
listeners = ["sub"]

[[milter]]
socket = "unix:/run/rspamd/milter.sock"
`)
	c, warns, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Milters) != 2 {
		t.Fatalf("milters %+v", c.Milters)
	}
	m := c.Milters[0]
	if m.Name != "opendkim" || m.Socket != "inet:8891@127.0.0.1" || m.Flags != "T" || m.Timeouts != "C:5s;E:2m" ||
		len(m.Listeners) != 1 || m.Listeners[0] != "sub" {
		t.Errorf("first milter %+v", m)
	}
	if c.Milters[1].Name != "milter-2" {
		t.Errorf("default name %q", c.Milters[1].Name)
	}
	var warned bool
	for _, w := range warns {
		if strings.Contains(w.String(), "milter milter-2: no flags") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning about the fail-open milter: %v", warns)
	}
}

func TestMilterConfigErrors(t *testing.T) {
	p := writeConfig(t, milterBase+`
[[milter]]
name = "a"
socket = "inet:99999@127.0.0.1"
flags = "X"
timeouts = "C:forever"
listeners = ["nope"]

[[milter]]
name = "a"
`)
	_, _, err := Load(p)
	if err == nil {
		t.Fatal("bad milters accepted")
	}
	for _, want := range []string{
		":16: milter a: milter socket \"inet:99999@127.0.0.1\": port",
		":17: milter a: milter flags \"X\"",
		":18: milter a: milter timeouts \"C:forever\"",
		":19: milter a: no listener is named \"nope\"",
		"milter 2: name \"a\" is used twice",
		"milter a: socket is missing",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
