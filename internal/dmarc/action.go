package dmarc

import (
	"fmt"

	"postern/internal/smtp"
)

// Action is what the receiving side does with a message after DMARC.
type Action int

// The actions, from mildest to strictest.
const (
	ActionAccept Action = iota // deliver normally
	ActionJunk                 // deliver to the recipient's Junk folder (Maildir .Junk)
	ActionHold                 // keep in the spool on hold for the admin
	ActionReject               // 550 5.7.1 after DATA
)

func (a Action) String() string {
	switch a {
	case ActionAccept:
		return "accept"
	case ActionJunk:
		return "junk"
	case ActionHold:
		return "hold"
	case ActionReject:
		return "reject"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// EnforceOptions are the [dmarc] settings that turn a result into an action.
type EnforceOptions struct {
	Enforce    bool   // [dmarc] enforce: act on quarantine and reject; false records only
	Quarantine string // [dmarc] quarantine: "junk" (default) or "hold"
}

// Action decides what to do with the message. Only a DMARC fail is acted
// on; temperror, permerror and none are accepted (and recorded).
func (r Result) Action(opt EnforceOptions) Action {
	if !opt.Enforce || r.Value != ValueFail {
		return ActionAccept
	}
	switch r.Disposition {
	case PolicyReject:
		return ActionReject
	case PolicyQuarantine:
		if opt.Quarantine == "hold" {
			return ActionHold
		}
		return ActionJunk
	}
	return ActionAccept
}

// RejectReply is the reply sent after DATA when Action is ActionReject.
func (r Result) RejectReply() *smtp.Reply {
	// RFC 7489 10.3: reject during the SMTP session, after DATA, so the sender learns of it.
	return &smtp.Reply{Code: 550, Enhanced: "5.7.1",
		Text: "message rejected: the sender domain's DMARC policy failed",
		Err:  fmt.Errorf("dmarc fail for %s (policy domain %s, p=%s)", r.FromDomain, r.PolicyDomain, r.Policy)}
}
