package status

import (
	"fmt"
	"io"
	"path/filepath"

	"postern/internal/config"
)

// WriteBanner prints what postern serve says once it serves: where the
// configuration, data and mailboxes are, each listener with the address
// it got (addrs, in the order of cfg.Listeners), and how to try it.
func WriteBanner(w io.Writer, cfg *config.Config, addrs []string) {
	abs, _ := filepath.Abs(cfg.DataDir)
	src := cfg.File
	if src == "" {
		src = "embedded default (no -config given)"
	}
	fmt.Fprintf(w, "postern is running as %s\n  config:   %s\n  data dir: %s\n  spool:    %s\n  mailboxes: %s\n",
		cfg.Hostname, src, abs, cfg.SpoolDir(), cfg.Delivery.Mailbox)
	for i, l := range cfg.Listeners {
		fmt.Fprintf(w, "  listener %-10s %-12s on %s\n", l.Name, l.Mode, addrs[i])
	}
	if len(cfg.Listeners) == 0 {
		return
	}
	domain := cfg.Hostname
	if len(cfg.LocalDomains) > 0 {
		domain = cfg.LocalDomains[0]
	}
	fmt.Fprintf(w, "Send a test message with:\n  swaks --server %s --to postmaster@%s\n", addrs[0], domain)
	fmt.Fprintf(w, "Add a user for AUTH and a mailbox with:\n  postern user add user@%s\n", domain)
}
