package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"postern/internal/cliflags"
	"postern/internal/incident"
	"postern/internal/status"
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
	fs := cliflags.New("block", blockUsage, errw)
	configPath := fs.String("config", "", configFlagHelp)
	reason := fs.String("reason", "", "why, written as a comment above the entry")
	pos, code, done := cliflags.ParseN(fs, args, 1, -1)
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
		fmt.Fprintln(out, status.Reload(context.Background(), status.AdminOf(cfg)))
	}
	if failed {
		return 1
	}
	return 0
}
