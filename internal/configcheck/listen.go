package configcheck

import (
	"fmt"
	"strings"

	"postern/internal/config"
	"postern/internal/procnet"
)

// proc is where checkAddresses reads who holds a port.
var proc = procnet.Proc("/proc")

// checkAddresses looks for the TCP addresses the server would listen
// on that something already listens on (postern serve would refuse to
// start): a problem when the holder is another program, a warning when
// it cannot be told (its descriptors are root's to read). A port held
// by a postern process is taken to be this server's, running.
func checkAddresses(cfg *config.Config) Result {
	type addr struct{ what, addr string }
	var addrs []addr
	for _, l := range cfg.Listeners {
		addrs = append(addrs, addr{fmt.Sprintf("[[listener]] %q address", l.Name), l.Address})
	}
	if cfg.Admin.Address != "" {
		addrs = append(addrs, addr{"[admin] address", cfg.Admin.Address})
	}
	if cfg.MTASTS.Serves() {
		addrs = append(addrs, addr{"[mta_sts] listen", cfg.MTASTS.Listen})
	}
	var r Result
	file := configName(cfg)
	for _, a := range addrs {
		procs, listening, _ := proc.Holder(a.addr)
		if !listening {
			continue
		}
		var others []string
		for _, p := range procs {
			if p.Name != "postern" {
				others = append(others, p.String())
			}
		}
		switch {
		case len(procs) == 0:
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: warning: %s %s is in use by a process this user cannot see (run postern check as root to tell which): postern serve will not start while it is",
				file, a.what, a.addr))
		case len(others) > 0:
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %s %s is in use by %s: postern serve will not start; choose another address or stop that program",
				file, a.what, a.addr, strings.Join(others, ", ")))
		}
	}
	return r
}
