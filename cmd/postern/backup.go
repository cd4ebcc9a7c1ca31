package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/incident"
	"postern/internal/maps"
)

const backupUsage = `usage: postern backup [-config FILE] ARCHIVE

Writes one tar.gz (mode 0600: it holds private keys) with the
configuration file, the maps, the users file, the DKIM keys
(data_dir/dkim), the certificates (data_dir/tls and [tls] cert and key)
and a MANIFEST of them all with sizes, modes and SHA-256 sums. The queue
is not included. Restore with postern restore.`

const restoreUsage = `usage: postern restore [-config FILE] [-force] ARCHIVE

Puts back what postern backup saved: the configuration file at -config
(default: where it was when backed up), then the maps, users, DKIM keys
and certificates where that configuration says they go. Nothing is
written when a file already exists, unless -force; nothing is written
either when the archive does not match its manifest.`

func runBackup(args []string) int  { return backupCmd(args, os.Stdout, os.Stderr) }
func runRestore(args []string) int { return restoreCmd(args, os.Stdout, os.Stderr) }

// backupSources lists what a backup of cfg holds.
func backupSources(cfg *config.Config) []incident.Source {
	var srcs []incident.Source
	if cfg.File != "" {
		srcs = append(srcs, incident.Source{Name: "config/postern.toml", Path: cfg.File})
	}
	if cfg.MapsDir != "" {
		for _, f := range maps.FileNames() {
			srcs = append(srcs, incident.Source{Name: "maps/" + f, Path: filepath.Join(cfg.MapsDir, f), Optional: true})
		}
	}
	srcs = append(srcs,
		incident.Source{Name: "data/users", Path: cfg.UsersFile(), Optional: true},
		incident.Source{Name: "data/dkim", Path: filepath.Join(cfg.DataDir, "dkim"), Optional: true},
		incident.Source{Name: "data/tls", Path: cfg.TLSDir(), Optional: true},
	)
	if cfg.TLS.Cert != "" {
		srcs = append(srcs, incident.Source{Name: "tls/cert", Path: cfg.TLS.Cert})
	}
	if cfg.TLS.Key != "" {
		srcs = append(srcs, incident.Source{Name: "tls/key", Path: cfg.TLS.Key})
	}
	return srcs
}

func backupCmd(args []string, out, errw io.Writer) int {
	fs := commandFlags("backup", backupUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	pos, code, done := parseArgs(fs, args, 1, 1)
	if done {
		return code
	}
	cfg, _, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	dst := pos[0]
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp*")
	if err != nil {
		fmt.Fprintf(errw, "postern backup: %v\n", err)
		return 1
	}
	tmp := f.Name()
	man, err := incident.WriteBackup(f, backupSources(cfg), cfg.Hostname, cfg.File, time.Now())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintf(errw, "postern backup: %v\n", err)
		return 1
	}
	files := 0
	for _, it := range man.Items {
		if !it.Dir {
			files++
		}
	}
	fmt.Fprintf(out, "%s: %d files backed up (config, maps, users, DKIM keys, certificates; not the queue)\n", dst, files)
	if cfg.File == "" {
		fmt.Fprintln(out, "note: no -config given: the embedded default configuration is not a file and was not saved")
	}
	return 0
}

func restoreCmd(args []string, out, errw io.Writer) int {
	fs := commandFlags("restore", restoreUsage, errw)
	configPath := fs.String("config", "", "where the configuration file goes (default: where it was backed up from)")
	force := fs.Bool("force", false, "overwrite files that exist")
	pos, code, done := parseArgs(fs, args, 1, 1)
	if done {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(errw, "postern restore: %v\n", err)
		return 1
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fail(err)
	}
	a, err := incident.ReadBackup(f)
	f.Close()
	if err != nil {
		return fail(fmt.Errorf("%s: %w", pos[0], err))
	}
	cfgDest := *configPath
	if cfgDest == "" {
		cfgDest = a.Manifest.Config
	}
	if cfgDest != "" {
		if abs, err := filepath.Abs(cfgDest); err == nil {
			cfgDest = abs
		}
	}
	cfg, err := restoredConfig(a, cfgDest)
	if err != nil {
		return fail(err)
	}
	dest := func(name string) (string, error) {
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
	restored, err := a.Restore(dest, *force, os.Geteuid() == 0)
	for _, p := range restored {
		fmt.Fprintf(out, "restored %s\n", p)
	}
	if err != nil {
		return fail(err)
	}
	// What goes into the data dir belongs to this machine's service
	// user, whatever ids the archive recorded.
	if err := giveRestored(cfg, restored); err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "%d paths restored from the backup of %s taken %s; restart postern (or send it SIGHUP) to use them\n",
		len(restored), a.Manifest.Host, a.Manifest.Created.Format(time.RFC3339))
	return 0
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

// giveRestored hands the restored paths inside the data dir to the
// service user.
func giveRestored(cfg *config.Config, restored []string) error {
	owner, err := serverOwner(cfg)
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
