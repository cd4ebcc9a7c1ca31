// Package configcheck is `postern check`: the configuration, and every
// file it names (maps, users, data dir, certificate, local socket,
// sandbox), checked without starting anything, each problem and warning
// on a line of its own with its file (and line, where there is one).
package configcheck

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"postern/internal/config"
	"postern/internal/layout"
	"postern/internal/privs"
)

// Run reports on the configuration that config.Load returned (cfg,
// warnings, err) and, when it loaded, runs every check; problems and
// warnings go to errw, the verdict to w. It returns the exit status: 1
// when there is a problem.
func Run(w, errw io.Writer, cfg *config.Config, warnings []config.Warning, err error) int {
	for _, wn := range warnings {
		fmt.Fprintln(errw, wn.String())
	}
	if err != nil {
		var ce *config.Error
		n := 1
		if errors.As(err, &ce) {
			n = len(ce.Problems)
		}
		fmt.Fprintln(errw, err)
		fmt.Fprintf(errw, "postern check: %d problem(s) in the configuration\n", n)
		return 1
	}
	// Where the server would work from inside its data dir, so does
	// the check (the working directory is restored afterwards).
	if owner, err := privs.ServiceOwner(cfg.User); err == nil {
		if wd, err := os.Getwd(); err == nil {
			defer os.Chdir(wd)
		}
		if c, err := layout.Enter(cfg, owner, slog.New(slog.DiscardHandler)); err == nil {
			cfg = c
		}
	}
	var problems []string
	for _, c := range checks() {
		r := c(cfg)
		problems = append(problems, r.Problems...)
		for _, wn := range r.Warnings {
			fmt.Fprintln(errw, wn)
		}
	}
	for _, p := range problems {
		fmt.Fprintln(errw, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(errw, "postern check: %d problem(s)\n", len(problems))
		return 1
	}
	fmt.Fprintf(w, "config OK: %s\n", configName(cfg))
	return 0
}

// Result holds lines of the form "file:line: message" (or "path:
// message" when there is no line).
type Result struct {
	Problems, Warnings []string
}

// Check validates something the configuration names.
type Check func(cfg *config.Config) Result

// checks lists what `postern check` looks at after the configuration
// itself loaded. Code that reads more files named by the configuration
// adds its Check here.
func checks() []Check {
	// Maps, users and the data dir are read by the server after it
	// dropped privileges: check them as its user. The certificate is
	// read while still root.
	return []Check{checkPerms, asServer(Maps), DirectoryMaps, DirectoryUsers, SharedState, ifDataDir(asServer(checkUsers)), ifDataDir(asServer(checkDataDir)),
		ifDataDir(asServer(checkTLSRPT)), ifDataDir(asServer(checkHistory)), asServer(checkARCSeal), checkTLS, checkRouting,
		checkLocal, checkSandbox, checkAddresses}
}

// ifDataDir runs c only when the data dir exists (serve makes it, for
// its user, when it does not).
func ifDataDir(c Check) Check {
	return func(cfg *config.Config) Result {
		if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
			return Result{}
		}
		return c(cfg)
	}
}

// errorLines splits a (joined) error into one line per problem.
func ErrorLines(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// configName is the configuration's file, as messages name it.
func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return config.EmbeddedName
	}
	return cfg.File
}
