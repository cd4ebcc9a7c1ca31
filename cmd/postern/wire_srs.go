package main

import (
	"postern/internal/route"
	"postern/internal/srskeys"
)

// wireSRS gives the relay decision the SRS bounce check and keeps the
// rewriter for the route courier; the keys file is made on the first
// start, as the service user.
func wireSRS(d *deps) error {
	rw, err := srskeys.Rewriter(d.cfg, true, d.log)
	if err != nil || rw == nil {
		return err
	}
	d.srs, d.relay.SRS = rw, rw
	return nil
}

// srsSender is the route courier's SRS for forwarded mail, nil when off.
func srsSender(d *deps) *route.SRS {
	if d.srs == nil {
		return nil
	}
	return &route.SRS{Forward: d.srs.Forward, Keep: srskeys.Keep(d.cfg, d.relay.IsLocal), Log: d.log}
}
