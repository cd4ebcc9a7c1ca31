package configcheck

import (
	"fmt"
	"path/filepath"
	"strings"

	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/maps"
	"postern/internal/sandbox"
)

// checkSandbox tells, as the server will find it, whether it can be
// confined ([sandbox]), and names the files delivery reads that the
// sandbox would keep it from (alias :include: files elsewhere).
func checkSandbox(cfg *config.Config) Result {
	var r Result
	file := configName(cfg)
	if cfg.Sandbox.Mode == config.SandboxOff {
		r.Warnings = append(r.Warnings, file+": warning: [sandbox] mode = \"off\": the server runs unconfined")
		return r
	}
	paths, why := layout.SandboxPaths(cfg)
	if why == "" {
		if abi, reason := sandbox.ABI(); abi == 0 {
			why = reason
		}
	}
	if why != "" {
		if cfg.Sandbox.Mode == config.SandboxRequire {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: [sandbox] mode = \"require\", but the server cannot be confined: %s", file, why))
		} else {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: the server will run without its sandbox: %s", file, why))
		}
		return r
	}
	if cfg.MapsDir == "" {
		return r
	}
	m, err := maps.Load(cfg.MapsDir)
	if err != nil {
		return r // Maps reports it
	}
	allowed := append(append([]string{}, paths.ReadDirs...), paths.WriteDirs...)
	for _, t := range m.Aliases.Includes() {
		if !under(t.Value, allowed) {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: :include:%s is outside what the sandbox lets the server read (%s): add its directory to [sandbox] read",
				t.Source.Human(), t.Value, strings.Join(paths.ReadDirs, ", ")))
		}
	}
	return r
}

// under reports whether path is one of dirs or below one.
func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, path); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}
