package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/sandbox"
)

// applySandbox confines the server as [sandbox] says and returns the
// line `postern status` shows.
func applySandbox(cfg *config.Config, log *slog.Logger) (string, error) {
	if cfg.Sandbox.Mode == config.SandboxOff {
		log.Warn("sandbox off ([sandbox] mode = \"off\")")
		return "off ([sandbox] mode = \"off\")", nil
	}
	paths, why := layout.SandboxPaths(cfg)
	st := sandbox.Status{Reason: why}
	var err error
	if why == "" {
		// Delivery makes the mailbox tree; its root must exist to be
		// allowed. This runs after the privilege drop, so the server's
		// user owns what it makes.
		for _, d := range paths.WriteDirs {
			os.MkdirAll(d, 0o755)
		}
		st, err = sandbox.Restrict(paths)
	}
	if !st.Active && cfg.Sandbox.Mode == config.SandboxRequire {
		if err == nil {
			err = fmt.Errorf("%s", st.Reason)
		}
		return "", fmt.Errorf("[sandbox] mode = \"require\", and the server cannot be confined: %w", err)
	}
	if !st.Active {
		log.Warn("sandbox not active", "reason", st.Reason)
		return st.String(), nil
	}
	log.Info("sandbox active", "landlock_abi", st.ABI, "read", strings.Join(append(st.Paths.ReadDirs, st.Paths.ReadFiles...), ","),
		"write", strings.Join(append(st.Paths.WriteDirs, st.Paths.WriteFiles...), ","), "missing", strings.Join(st.Missing, ","))
	return st.String(), nil
}
