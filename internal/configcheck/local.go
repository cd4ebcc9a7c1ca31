package configcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"postern/internal/config"
	"postern/internal/privs"
)

// checkLocal looks at where the local submission socket goes, for
// postern check: a place only the server can reach, a directory others
// may write to, a configuration file that users cannot read to find it.
func checkLocal(cfg *config.Config) Result {
	var r Result
	sock := cfg.Local.Socket
	if sock == "" {
		return r
	}
	file := configName(cfg)
	dir := filepath.Dir(sock)
	if cfg.File != "" && (dir == cfg.DataDir || strings.HasPrefix(dir, cfg.DataDir+string(filepath.Separator))) {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: [local] socket %s is inside data_dir (mode 0700): only root and the server's user can send with postern sendmail (use %s)",
			file, sock, config.DefaultLocalSocket))
	}
	if _, err := os.Stat(dir); err == nil {
		r.Problems = append(r.Problems, ErrorLines(privs.CheckPerms(dir))...)
	}
	if cfg.File != "" && sock != config.DefaultLocalSocket {
		if fi, err := os.Stat(cfg.File); err == nil && fi.Mode().Perm()&0o004 == 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: other users cannot read this file, so their postern sendmail looks for %s, not for [local] socket %s (chmod o+r the file, or use the default socket)",
				file, config.DefaultLocalSocket, sock))
		}
	}
	return r
}
