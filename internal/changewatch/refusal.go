package changewatch

import (
	"fmt"
	"os"
	"path/filepath"

	"postern/internal/changelog"
	"postern/internal/layout"
	"postern/internal/privs"
)

// Refusal is serve's message for a config file that does not load (err):
// its problems and, when the change log has one, the last version that
// passed, to put back with postern rollback.
func Refusal(flagPath string, err error) string {
	path := layout.ConfigFile(flagPath)
	text, rerr := os.ReadFile(path)
	if path == "" || rerr != nil {
		return err.Error()
	}
	dir := filepath.Join(Locate(path, string(text)).DataDir, "changes")
	if _, serr := os.Stat(dir); serr != nil {
		return err.Error()
	}
	store, oerr := changelog.Open(dir, privs.Owner{})
	if oerr != nil {
		return err.Error()
	}
	abs, _ := filepath.Abs(path)
	n := LastGood(store, abs)
	if n == 0 {
		return err.Error()
	}
	return fmt.Sprintf("%v\npostern: not started; the last good version of %s is change %d: see it with `postern changes show %d`, put it back with `postern rollback %d`",
		err, abs, n, n, n)
}
