package configcheck

import (
	"postern/internal/config"
	"postern/internal/history"
	"postern/internal/summary"
)

// checkHistory reads the console's history store and the summary's
// record (data_dir/history) as the server does. Neither stops the
// server: a damaged history file is moved aside at the start (the plots
// start empty) and a damaged record is taken as a first start.
func checkHistory(cfg *config.Config) Result {
	r := Result{Problems: history.CheckDir(cfg.HistoryDir())}
	if err := summary.CheckRecord(cfg.HistoryDir()); err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	return r
}
