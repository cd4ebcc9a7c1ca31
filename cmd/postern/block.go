package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/config"
	"postern/internal/incident"
)

const blockUsage = `usage: postern block [-config FILE] [-reason TEXT] IP|CIDR...

Refuses every connection from the addresses or networks at once: appends
"Connect:IP REJECT" (or the network) to maps_dir/access, with a comment
holding the date and reason, and asks the running server to reload its
maps (through the admin listener; otherwise it notices within seconds).
To lift a block, delete the line from the access map.`

// runBlock is `postern block`.
func runBlock(args []string) int { return blockCmd(args, os.Stdout, os.Stderr) }

func blockCmd(args []string, out, errw io.Writer) int {
	fs := commandFlags("block", blockUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	reason := fs.String("reason", "", "why, written as a comment above the entry")
	pos, code, done := parseArgs(fs, args, 1, -1)
	if done {
		return code
	}
	cfg, _, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	if cfg.MapsDir == "" {
		fmt.Fprintln(errw, "postern block: no maps_dir in the configuration: set maps_dir to keep an access map")
		return 1
	}
	path := filepath.Join(cfg.MapsDir, "access")
	changed, failed := false, false
	for _, target := range pos {
		_, p, err := incident.BlockKey(target)
		if err == nil {
			for _, tn := range cfg.TrustedNetworks {
				if tn.Overlaps(p) {
					fmt.Fprintf(errw, "warning: %s overlaps trusted_networks %s\n", target, tn)
				}
			}
		}
		line, err := incident.Block(path, target, *reason, time.Now())
		switch {
		case errors.Is(err, incident.ErrAlreadyBlocked):
			fmt.Fprintf(out, "%s: already blocked (%s)\n", target, line)
		case err != nil:
			fmt.Fprintf(errw, "postern block %s: %v\n", target, err)
			failed = true
		default:
			fmt.Fprintf(out, "%s: added %q to %s\n", target, line, path)
			changed = true
		}
	}
	if changed {
		fmt.Fprintln(out, reloadServer(cfg))
	}
	if failed {
		return 1
	}
	return 0
}

// reloadServer asks the running server to reread its maps and users now
// and says what happened.
func reloadServer(cfg *config.Config) string {
	const later = "the running server rereads the map within 5 seconds (or send it SIGHUP)"
	if cfg.Admin.Address == "" {
		return later
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Post("http://"+cfg.Admin.Address+"/reload", "text/plain", nil)
	if err != nil {
		return "server not reached on the admin address: " + later
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("the server's reload failed (%s): %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return "the running server reloaded its maps"
}
