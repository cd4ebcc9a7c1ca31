package main

import "postern/internal/status"

// fileLoads are the files the running server rereads (maps and users),
// for metrics and postern status.
func fileLoads(d *deps) status.Loads {
	l := status.Loads{Users: d.users}
	if d.maps != nil {
		l.Maps = d.maps
	}
	return l
}
