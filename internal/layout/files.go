package layout

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"postern/internal/config"
	"postern/internal/maps"
	"postern/internal/privs"
)

// SystemConfig is the configuration file of an installed postern (the
// package's conffile).
const SystemConfig = "/etc/postern/postern.toml"

// ConfigFile is the configuration file a command reads: its -config (or
// sendmail's -C), else $POSTERN_CONFIG, else /etc/postern/postern.toml
// when it exists, else "" for the embedded default. Every command finds
// the same file, so that root's `postern user add` writes where the
// server reads.
func ConfigFile(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv("POSTERN_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(SystemConfig); err == nil {
		return SystemConfig
	}
	return ""
}

// MapFiles are the paths of every map maps_dir may hold; none without
// maps_dir.
func MapFiles(cfg *config.Config) []string {
	if cfg.MapsDir == "" {
		return nil
	}
	var out []string
	for _, f := range maps.FileNames() {
		out = append(out, filepath.Join(cfg.MapsDir, f))
	}
	return out
}

// PermPaths lists the files and directories that must not be writable
// by group or others: the configuration file, maps_dir and its maps, the
// data dir, the users file, and a certificate and key of our own.
func PermPaths(cfg *config.Config) []string {
	var paths []string
	if cfg.File != "" {
		paths = append(paths, cfg.File)
	}
	if cfg.MapsDir != "" {
		paths = append(paths, cfg.MapsDir)
		paths = append(paths, MapFiles(cfg)...)
	}
	paths = append(paths, cfg.DataDir, cfg.UsersFile())
	if !cfg.TLS.SelfSigned() {
		paths = append(paths, cfg.TLS.Cert, cfg.TLS.Key)
	}
	return paths
}

// ControlSocket is where the running server listens for queue commands.
func ControlSocket(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "control.sock") }

// MailboxTop is the fixed directory above the mailbox template's first
// {field}.
func MailboxTop(cfg *config.Config) string {
	t := cfg.Delivery.Mailbox
	if i := strings.IndexByte(t, '{'); i >= 0 {
		t = t[:i]
	}
	return filepath.Clean(filepath.Dir(t + "x"))
}

// MakeDataDir creates the data dir for a command that writes into it,
// owned by the service user when the command runs as root, and returns
// that owner for what the command writes there.
func MakeDataDir(cfg *config.Config) (privs.Owner, error) {
	owner, err := privs.ServiceOwner(cfg.User)
	if err != nil {
		return owner, err
	}
	_, statErr := os.Stat(cfg.DataDir)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return owner, err
	}
	if os.IsNotExist(statErr) {
		err = owner.Give(cfg.DataDir)
	}
	return owner, err
}

// GiveTree gives dir and everything below it to uid:gid, without
// following symbolic links (serve, started as root, gives the data dir
// to its user, whoever created what is in it, as Postfix's
// set-permissions does).
func GiveTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
