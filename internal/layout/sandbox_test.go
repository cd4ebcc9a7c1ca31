package layout

import (
	"os"
	"slices"
	"strings"
	"testing"

	"postern/internal/config"
)

func TestFixedDir(t *testing.T) {
	for _, c := range []struct{ path, mark, want string }{
		{"/var/mail/{domain}/{user}/", "{", "/var/mail"},
		{"/{user}/Maildir/", "{", ""},
		{"$HOME/.forward", "$", ""},
		{"/var/forward/$USER", "$", "/var/forward"},
		{"/var/mail/", "{", "/var/mail"},
		{"/var/mail/box", "{", "/var/mail"},
	} {
		if got := fixedDir(c.path, c.mark); got != c.want {
			t.Errorf("%s: %q, want %q", c.path, got, c.want)
		}
	}
}

func TestSandboxPaths(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.MapsDir = "/var/lib/postern", "/etc/postern/maps"
	cfg.Delivery.Mailbox = "/var/mail/{domain}/{user}/"
	cfg.Delivery.ForwardPath = []string{"$HOME/.forward"}
	cfg.Local.Socket = "/run/postern/submit.sock"
	p, why := SandboxPaths(cfg)
	if why != "" {
		t.Fatal(why)
	}
	for _, d := range []string{"/etc", "/etc/postern/maps", "/home"} {
		if !slices.Contains(p.ReadDirs, d) {
			t.Errorf("read %s missing: %q", d, p.ReadDirs)
		}
	}
	for _, d := range []string{"/var/lib/postern", "/var/mail", "/run/postern"} {
		if !slices.Contains(p.WriteDirs, d) {
			t.Errorf("write %s missing: %q", d, p.WriteDirs)
		}
	}
	if !slices.Equal(p.WriteFiles, []string{os.DevNull}) {
		t.Errorf("write files %q", p.WriteFiles)
	}
	cfg.Delivery.Mailbox = "/{user}/"
	if _, why := SandboxPaths(cfg); !strings.Contains(why, "no fixed directory") {
		t.Errorf("mailbox at the root: %q", why)
	}
	cfg.Delivery.AllowAliasFiles = true
	if _, why := SandboxPaths(cfg); !strings.Contains(why, "allow_alias_files") {
		t.Errorf("alias files: %q", why)
	}
}
