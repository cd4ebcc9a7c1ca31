package configcheck

import (
	"postern/internal/config"
	"postern/internal/tlsrpt"
)

// checkTLSRPT reads the TLS report counts (data_dir/tlsrpt) as the
// server does at start when [tlsrpt] is on: a day file it cannot read,
// or that does not parse, stops postern serve.
func checkTLSRPT(cfg *config.Config) Result {
	if !cfg.TLSRPT.Enabled {
		return Result{}
	}
	if err := tlsrpt.CheckStore(cfg.TLSRPTDir()); err != nil {
		return Result{Problems: []string{err.Error() +
			" (postern serve would not start; move a damaged day file away to start that day's counts again, or set [tlsrpt] enabled = false)"}}
	}
	return Result{}
}
