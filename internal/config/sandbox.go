package config

import "path/filepath"

// Sandbox is the [sandbox] table: confining the running server with
// Landlock to the files it needs (read-only: /etc, the maps, the TLS
// files; read-write: data_dir, the mailboxes, the local socket's
// directory).
type Sandbox struct {
	// Mode is "auto" (the default: confine when the kernel has Landlock,
	// and say in the log and `postern status` why not otherwise),
	// "require" (refuse to start without it) or "off".
	Mode string `toml:"mode"`
	// Read and Write add directories (alias :include: files elsewhere,
	// mbox files outside the mailbox directory, ...).
	Read  []string `toml:"read"`
	Write []string `toml:"write"`
}

// The [sandbox] modes.
const (
	SandboxAuto    = "auto"
	SandboxRequire = "require"
	SandboxOff     = "off"
)

func defaultSandbox() Sandbox { return Sandbox{Mode: SandboxAuto} }

// sandbox validates [sandbox]; relative paths count from base.
func (d *decoder) sandbox(c *Config, base string) {
	s := &c.Sandbox
	switch s.Mode {
	case SandboxAuto, SandboxRequire, SandboxOff:
	default:
		d.errorf("sandbox.mode", "sandbox.mode must be %q, %q or %q, not %q", SandboxAuto, SandboxRequire, SandboxOff, s.Mode)
	}
	for _, l := range []struct {
		key   string
		paths []string
	}{{"sandbox.read", s.Read}, {"sandbox.write", s.Write}} {
		for i, p := range l.paths {
			if p == "" {
				d.errorf(indexPath(l.key, i), "%s: an empty path", l.key)
				continue
			}
			if !filepath.IsAbs(p) {
				l.paths[i] = filepath.Join(base, p)
			}
		}
	}
}
