package sendmail

import (
	"fmt"
	"io"
)

// Newaliases is what -bi (newaliases) says and returns: postern has no
// alias database to rebuild, so it reports on the maps in mapsDir ("":
// none configured) with the warnings and problems their check found.
func Newaliases(out, errw io.Writer, mapsDir string, warnings, problems []string) int {
	fmt.Fprintln(out, "postern reads its maps (aliases included) as plain text: there is no database to rebuild.")
	fmt.Fprintln(out, "The running server picks up changes by itself (or at once on SIGHUP).")
	if mapsDir == "" {
		fmt.Fprintln(out, "No maps_dir is configured: there are no aliases.")
		return 0
	}
	for _, w := range warnings {
		fmt.Fprintln(out, w)
	}
	for _, p := range problems {
		fmt.Fprintln(errw, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(errw, "newaliases: the maps in %s have errors; the server keeps the previous version of a broken map\n", mapsDir)
		return ExConfig
	}
	fmt.Fprintf(out, "The maps in %s are valid.\n", mapsDir)
	return 0
}
