package main

import (
	"postern/internal/greylist"
	"postern/internal/inbound"
	"postern/internal/reputation"
)

// The connection-time checks are the inbound checkers checksStages hands
// them out as.
var (
	_ inbound.ConnectChecker = (*reputation.DNSBL)(nil)
	_ inbound.RcptChecker    = (*reputation.DNSBL)(nil)
	_ inbound.ConnectChecker = (*reputation.RDNS)(nil)
	_ inbound.RcptChecker    = (*reputation.RDNS)(nil)
	_ inbound.ConnectChecker = (*reputation.EarlyTalker)(nil)
	_ inbound.HeloChecker    = (*reputation.EarlyTalker)(nil)
	_ inbound.HeloChecker    = (*reputation.Helo)(nil)
	_ inbound.MailChecker    = (*reputation.Helo)(nil)
	_ inbound.RcptChecker    = (*greylist.Greylist)(nil)
)
