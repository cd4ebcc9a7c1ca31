package layout

import (
	"log/slog"
	"testing"

	"postern/internal/config"
	"postern/internal/privs"
)

func TestRelativeTo(t *testing.T) {
	for p, want := range map[string]string{
		"/root/postern-data": ".", "/root/postern-data/spool": "./spool", "/root/postern-data2": "/root/postern-data2",
		"/etc/postern/maps": "/etc/postern/maps", "": "",
	} {
		if got := relativeTo(p, "/root/postern-data"); got != want {
			t.Errorf("%q: %q, want %q", p, got, want)
		}
	}
}

// Every path below the data dir is made relative, in a copy: the
// configuration relocated from is left as it was.
func TestRelocate(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = "/root/postern-data"
	cfg.Delivery.Mailbox = "/root/postern-data/mail/{domain}/{user}/"
	cfg.Sandbox.Read = []string{"/root/postern-data/extra", "/srv"}
	cfg.MapsDir = "/etc/postern/maps"
	c := *cfg
	relocate(reflectValue(&c), cfg.DataDir)
	if c.DataDir != "." || c.Delivery.Mailbox != "./mail/{domain}/{user}/" || c.MapsDir != "/etc/postern/maps" ||
		c.Sandbox.Read[0] != "./extra" || c.Sandbox.Read[1] != "/srv" {
		t.Errorf("relocated: %q %q %q %q", c.DataDir, c.Delivery.Mailbox, c.MapsDir, c.Sandbox.Read)
	}
	if cfg.DataDir != "/root/postern-data" || cfg.Sandbox.Read[0] != "/root/postern-data/extra" {
		t.Errorf("the original changed: %q %q", cfg.DataDir, cfg.Sandbox.Read)
	}
}

// Not root, there is nobody to change to: the configuration is served
// as it is.
func TestEnterWithoutOwner(t *testing.T) {
	cfg := config.Default()
	got, err := Enter(cfg, privs.Owner{}, slog.New(slog.DiscardHandler))
	if err != nil || got != cfg {
		t.Errorf("%v %v", got, err)
	}
}
