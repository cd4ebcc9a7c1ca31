package incident

import (
	"context"

	"postern/internal/inbound"
	"postern/internal/maps"
	"postern/internal/smtp"
)

// AccessChecker refuses clients that the access map's Connect: entries
// (and untagged address entries) REJECT or ERROR, as sendmail's
// check_relay does: by address when they connect, and by their verified
// host name at HELO once a reverse DNS check has set it.
type AccessChecker struct {
	// Maps returns the current maps (maps.Set.Maps); nil or a nil result
	// means no access map.
	Maps func() *maps.Maps
}

type checkedName struct{}

func (a *AccessChecker) access() *maps.Access {
	if a.Maps == nil {
		return nil
	}
	m := a.Maps()
	if m == nil {
		return nil
	}
	return m.Access
}

// CheckConnect implements inbound.ConnectChecker.
func (a *AccessChecker) CheckConnect(_ context.Context, c *inbound.Conn) *inbound.Verdict {
	e, ok := a.access().Connect(c.IP(), c.ClientName)
	if c.ClientName != "" {
		c.Values[checkedName{}] = true
	}
	if !ok {
		return nil
	}
	// RFC 5321 3.1: a server that refuses a client at once greets with 554.
	return refuse(e, 554)
}

// CheckHelo implements inbound.HeloChecker: the host name, when a later
// connect checker verified it.
func (a *AccessChecker) CheckHelo(_ context.Context, c *inbound.Conn) *inbound.Verdict {
	if c.ClientName == "" || c.Values[checkedName{}] != nil {
		return nil
	}
	c.Values[checkedName{}] = true
	e, ok := a.access().Connect(c.IP(), c.ClientName)
	if !ok {
		return nil
	}
	return refuse(e, 550)
}

func refuse(e maps.AccessEntry, rejectCode int) *inbound.Verdict {
	code, enh, text := e.Reply()
	if code == 0 {
		return nil // OK, RELAY, SKIP...: not a refusal here
	}
	if e.Action == maps.ActionReject {
		code, enh = rejectCode, "5.7.1"
	}
	return &inbound.Verdict{Reply: &smtp.Reply{Code: code, Enhanced: enh, Text: text},
		Rule: "access denied by " + e.Rule(), Disconnect: true}
}
