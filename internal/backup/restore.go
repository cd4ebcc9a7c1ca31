package backup

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"postern/internal/config"
	"postern/internal/incident"
	"postern/internal/privs"
)

// Open reads the archive at p and checks it against its manifest.
func Open(p string) (*incident.Archive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := incident.ReadBackup(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return a, nil
}

// ConfigDest is where the configuration file goes: dest when given, else
// where it was backed up from; absolute when it can be.
func ConfigDest(a *incident.Archive, dest string) string {
	if dest == "" {
		dest = a.Manifest.Config
	}
	if dest != "" {
		if abs, err := filepath.Abs(dest); err == nil {
			dest = abs
		}
	}
	return dest
}

// Restore puts back what the archive holds: the configuration at
// cfgDest, then the maps, users, DKIM keys and certificates where that
// configuration says they go. Nothing is written over an existing file
// unless force. Run as root, it keeps the owners the archive recorded,
// then gives what went into the data dir to the service user. It returns
// the paths restored, also with an error.
func Restore(a *incident.Archive, cfgDest string, force bool) ([]string, error) {
	cfg, err := restoredConfig(a, cfgDest)
	if err != nil {
		return nil, err
	}
	restored, err := a.Restore(destination(cfg, cfgDest), force, os.Geteuid() == 0)
	if err != nil {
		return restored, err
	}
	// What goes into the data dir belongs to this machine's service
	// user, whatever ids the archive recorded.
	return restored, giveRestored(cfg, restored)
}

// destination maps archive names to the paths cfg gives them.
func destination(cfg *config.Config, cfgDest string) func(name string) (string, error) {
	return func(name string) (string, error) {
		area, rest, _ := strings.Cut(name, "/")
		switch area {
		case "config":
			return cfgDest, nil
		case "maps":
			if cfg.MapsDir == "" {
				return "", fmt.Errorf("the archive holds maps but the configuration has no maps_dir")
			}
			return filepath.Join(cfg.MapsDir, filepath.FromSlash(rest)), nil
		case "data":
			return filepath.Join(cfg.DataDir, filepath.FromSlash(rest)), nil
		case "tls":
			switch rest {
			case "cert":
				return cfg.TLS.Cert, nil // "" skips: the configuration has none
			case "key":
				return cfg.TLS.Key, nil
			}
		}
		return "", fmt.Errorf("unexpected archive member %s", path.Clean(name))
	}
}

// restoredConfig loads the configuration the archive holds as if it were
// at dest (relative paths count from there), or the one at dest when the
// archive has none.
func restoredConfig(a *incident.Archive, dest string) (*config.Config, error) {
	data, ok := a.File("config/postern.toml")
	if !ok {
		if dest == "" {
			return nil, errors.New("the archive holds no configuration: give -config FILE")
		}
		cfg, _, err := config.Load(dest)
		return cfg, err
	}
	if dest == "" || !filepath.IsAbs(dest) {
		abs, err := filepath.Abs(dest)
		if err != nil || dest == "" {
			return nil, errors.New("give -config FILE: where the configuration goes")
		}
		dest = abs
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(dest), ".postern-restore-*.toml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	cfg, _, err := config.Load(f.Name())
	if err != nil {
		return nil, fmt.Errorf("the configuration in the archive does not load: %w", err)
	}
	return cfg, nil
}

// giveRestored hands the restored paths inside the data dir, and the
// data dir itself, to the service user.
func giveRestored(cfg *config.Config, restored []string) error {
	owner, err := privs.ServiceOwner(cfg.User)
	if err != nil || !owner.IsSet() {
		return err
	}
	top := filepath.Clean(cfg.DataDir)
	var mine []string
	for _, p := range restored {
		if p == top || strings.HasPrefix(p, top+string(filepath.Separator)) {
			mine = append(mine, p)
		}
	}
	if len(mine) > 0 {
		mine = append(mine, top)
	}
	for _, p := range mine {
		if err := os.Lchown(p, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("give %s to %s: %w", p, owner.Name, err)
		}
	}
	return nil
}
