package main

import (
	"fmt"

	"postern/internal/milter"
	"postern/internal/milter/spec"
)

// milterStages builds the milter client from the [[milter]] tables: one
// checker that runs the milters in their configured order.
func milterStages(d *deps) ([]any, error) {
	if len(d.cfg.Milters) == 0 {
		return nil, nil
	}
	var filters []milter.Filter
	for _, m := range d.cfg.Milters {
		sock, err := spec.ParseSocket(m.Socket)
		if err != nil {
			return nil, fmt.Errorf("milter %s: %w", m.Name, err)
		}
		onFailure, err := spec.ParseFlags(m.Flags)
		if err != nil {
			return nil, fmt.Errorf("milter %s: %w", m.Name, err)
		}
		timeouts, err := spec.ParseTimeouts(m.Timeouts)
		if err != nil {
			return nil, fmt.Errorf("milter %s: %w", m.Name, err)
		}
		filters = append(filters, milter.Filter{
			Name:      m.Name,
			Socket:    sock,
			OnFailure: onFailure,
			Timeouts:  timeouts,
			Listeners: m.Listeners,
		})
		d.log.Info("milter", "name", m.Name, "socket", sock.String(), "on_failure", onFailure.String(),
			"listeners", m.Listeners)
	}
	return []any{milter.New(milter.Options{Filters: filters, Hostname: d.cfg.Hostname, Log: d.log})}, nil
}
