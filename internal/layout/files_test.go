package layout

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"postern/internal/config"
)

func reflectValue(c *config.Config) reflect.Value { return reflect.ValueOf(c).Elem() }

func TestPermPaths(t *testing.T) {
	cfg := config.Default()
	cfg.File, cfg.DataDir, cfg.MapsDir = "/etc/postern/postern.toml", "/var/lib/postern", "/etc/postern/maps"
	got := PermPaths(cfg)
	for _, want := range []string{cfg.File, cfg.MapsDir, filepath.Join(cfg.MapsDir, "access"), cfg.DataDir, filepath.Join(cfg.DataDir, "users")} {
		if !slices.Contains(got, want) {
			t.Errorf("%s missing from %q", want, got)
		}
	}
	if slices.Contains(got, "") {
		t.Errorf("empty path for the self-signed certificate: %q", got)
	}
	cfg.TLS.Cert, cfg.TLS.Key = "/etc/ssl/c.pem", "/etc/ssl/k.pem"
	if got := PermPaths(cfg); !slices.Contains(got, cfg.TLS.Key) {
		t.Errorf("key missing: %q", got)
	}
	cfg.MapsDir = ""
	if MapFiles(cfg) != nil {
		t.Error("map files without maps_dir")
	}
}

func TestMailboxTop(t *testing.T) {
	for mbox, want := range map[string]string{
		"/var/mail/{domain}/{user}/": "/var/mail", "data/mail/{user}": "data/mail", "/var/spool/mail/": "/var/spool/mail",
	} {
		cfg := config.Default()
		cfg.Delivery.Mailbox = mbox
		if got := MailboxTop(cfg); got != want {
			t.Errorf("%s: %s, want %s", mbox, got, want)
		}
	}
}

func TestConfigFile(t *testing.T) {
	t.Setenv("POSTERN_CONFIG", "")
	if got := ConfigFile("/x/postern.toml"); got != "/x/postern.toml" {
		t.Errorf("flag: %q", got)
	}
	t.Setenv("POSTERN_CONFIG", "/env/postern.toml")
	if got := ConfigFile(""); got != "/env/postern.toml" {
		t.Errorf("environment: %q", got)
	}
	if got := ConfigFile("/x/postern.toml"); got != "/x/postern.toml" {
		t.Errorf("flag over environment: %q", got)
	}
}
