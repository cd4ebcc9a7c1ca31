package changewatch

import (
	"log/slog"
	"path/filepath"

	"postern/internal/changelog"
	"postern/internal/config"
	"postern/internal/privs"
)

// StoreDir is where a configuration keeps its change log.
func StoreDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "changes") }

// Start opens the change log of the server and records the versions it
// starts with (run as root, before the privileges are dropped, so that
// the config file can be read; what it writes is handed to owner).
// shown is the configuration as read, cfg the one the server uses (after
// layout.Enter). When the change log cannot be opened it says so in the
// log and returns nil: mail goes on, unrecorded (a nil Watcher does
// nothing).
func Start(shown, cfg *config.Config, owner privs.Owner, log *slog.Logger) *Watcher {
	store, err := changelog.Open(StoreDir(cfg), owner)
	if err != nil {
		log.Error("change log not kept", "dir", StoreDir(shown), "err", err)
		return nil
	}
	w := New(store, Files(shown, cfg, false), log)
	w.Pass(true)
	return w
}
