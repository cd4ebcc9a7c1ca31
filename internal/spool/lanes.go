package spool

// Delivery runs in two lanes, each with its own bound on messages in
// delivery at once:
//
//   - the normal lane (Options.MaxActive, 100 by default) takes fresh
//     mail and messages that failed fewer than Options.SlowAfter times;
//   - the slow lane (Options.SlowActive, 10 by default) takes messages
//     that failed SlowAfter (3) times or more. Their retries are already
//     spaced out by the exponential backoff (by then 40 minutes and more
//     apart, up to retry_max), and their attempts tend to be slow too
//     (servers that time out, refuse, or are unreachable).
//
// A message that keeps failing therefore never takes a place in the
// normal lane: however many of them are due at once, fresh mail still
// finds MaxActive places. The lane follows from the attempt count alone
// (kept in the state file), so it survives a restart.

// lane is one delivery lane.
type lane int

const (
	laneNormal lane = iota
	laneSlow
)

var lanes = [...]lane{laneNormal, laneSlow}

// laneOf says which lane delivers it. The caller holds s.mu.
func (s *Spool) laneOf(it *item) lane {
	if it.attempts >= s.opt.SlowAfter {
		return laneSlow
	}
	return laneNormal
}

func (s *Spool) laneLimit(l lane) int {
	if l == laneSlow {
		return s.opt.SlowActive
	}
	return s.opt.MaxActive
}
