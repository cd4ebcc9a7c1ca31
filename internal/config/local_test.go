package config

import (
	"path/filepath"
	"strings"
	"testing"
)

const localBase = `hostname = "mx.example.test"
data_dir = "/var/lib/postern"
user = ""
`

func TestLocalDefaults(t *testing.T) {
	c, _, err := Load(writeConfig(t, localBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Local.Socket != DefaultLocalSocket || c.Local.SenderCheck != SenderRefuse || len(c.Local.TrustedUsers) != 0 {
		t.Errorf("file defaults %+v", c.Local)
	}
	e, _, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(e.DataDir, "submit.sock"); e.Local.Socket != want {
		t.Errorf("embedded socket %q, want %q", e.Local.Socket, want)
	}
}

func TestLocalConfig(t *testing.T) {
	p := writeConfig(t, localBase+`
[local]
socket = "run/submit.sock"
sender_check = "warn"
trusted_users = ["root", "no-such-user-here"]
`)
	c, warns, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "run", "submit.sock"); c.Local.Socket != want {
		t.Errorf("socket %q, want %q (relative to the config file)", c.Local.Socket, want)
	}
	if c.Local.SenderCheck != SenderWarn || len(c.Local.TrustedUsers) != 2 {
		t.Errorf("local %+v", c.Local)
	}
	var warned bool
	for _, w := range warns {
		if strings.Contains(w.String(), `no user "no-such-user-here"`) && w.Line == 8 {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning with line 8 for an unknown trusted user: %v", warns)
	}

	off, _, err := Load(writeConfig(t, localBase+"[local]\nsocket = \"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if off.Local.Socket != "" {
		t.Errorf("socket = \"\" should turn local submission off, got %q", off.Local.Socket)
	}
}

func TestLocalConfigErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
		line             int
	}{
		{"bad sender check", "[local]\nsender_check = \"allow\"\n", `local.sender_check must be "refuse" or "warn"`, 5},
		{"socket too long", "[local]\nsocket = \"/" + strings.Repeat("x", 120) + "\"\n", "a unix socket path may have at most 107", 5},
		{"socket is the data dir", "[local]\nsocket = \"/var/lib/postern\"\n", "local.socket is the data dir itself", 5},
		{"empty trusted user", "[local]\ntrusted_users = [\"\"]\n", "local.trusted_users: an empty user name", 5},
		{"bad sender login", "[sender_login]\nenvelope = \"warn\"\n", `sender_login.envelope must be "refuse" or "off"`, 5},
		{"bad header from check", "[sender_login]\nheader_from = \"no\"\n", `sender_login.header_from must be "refuse" or "off"`, 5},
		{"bad sandbox mode", "[sandbox]\nmode = \"on\"\n", `sandbox.mode must be "auto", "require" or "off"`, 5},
		{"empty sandbox path", "[sandbox]\nread = [\"\"]\n", "sandbox.read: an empty path", 5},
		{"socket not a string", "[local]\nsocket = 3\n", "local.socket", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(writeConfig(t, localBase+tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			ce, ok := err.(*Error)
			if !ok || len(ce.Problems) == 0 {
				t.Fatalf("error %v", err)
			}
			var found bool
			for _, p := range ce.Problems {
				if strings.Contains(p.Msg, tc.want) && p.Line == tc.line {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v, want %q at line %d", ce.Problems, tc.want, tc.line)
			}
		})
	}
}
