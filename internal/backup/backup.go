// Package backup is what `postern backup` saves of an installation and
// where `postern restore` puts it back: the configuration file, the
// maps, the users file, the DKIM keys and the certificates, in one
// archive with a manifest (internal/incident writes and reads it). The
// queue is not saved.
package backup

import (
	"os"
	"path/filepath"
	"time"

	"postern/internal/config"
	"postern/internal/incident"
	"postern/internal/maps"
)

// Sources lists what a backup of cfg holds, by archive name.
func Sources(cfg *config.Config) []incident.Source {
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
		// The SRS keys: without them, bounces to addresses handed out
		// before the restore are refused.
		incident.Source{Name: "data/srs", Path: filepath.Dir(cfg.SRSKeysFile()), Optional: true},
	)
	if cfg.TLS.Cert != "" {
		srcs = append(srcs, incident.Source{Name: "tls/cert", Path: cfg.TLS.Cert})
	}
	if cfg.TLS.Key != "" {
		srcs = append(srcs, incident.Source{Name: "tls/key", Path: cfg.TLS.Key})
	}
	return srcs
}

// Write saves the backup of cfg at dst: written to a temporary file
// beside it, synced, then renamed, so that dst is whole or absent. It
// returns how many files it saved.
func Write(dst string, cfg *config.Config, now time.Time) (files int, err error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	man, err := incident.WriteBackup(f, Sources(cfg), cfg.Hostname, cfg.File, now)
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
		return 0, err
	}
	for _, it := range man.Items {
		if !it.Dir {
			files++
		}
	}
	return files, nil
}
