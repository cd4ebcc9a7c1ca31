package reputation

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"postern/internal/dns"
	"postern/internal/inbound"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

// HeloLevel is how strictly the HELO/EHLO name is checked.
type HeloLevel int

const (
	// HeloOff checks nothing.
	HeloOff HeloLevel = iota
	// HeloSyntax refuses a name that is neither a domain nor an address
	// literal (501).
	HeloSyntax
	// HeloNormal also refuses our own names and addresses, a name that
	// is not fully qualified, and an address literal that is not the
	// client's address (550).
	HeloNormal
	// HeloStrict also refuses a name that does not resolve.
	HeloStrict
)

// ParseHeloLevel maps the configuration word to a level.
func ParseHeloLevel(s string) (HeloLevel, bool) {
	switch s {
	case "off":
		return HeloOff, true
	case "syntax":
		return HeloSyntax, true
	case "normal":
		return HeloNormal, true
	case "strict":
		return HeloStrict, true
	}
	return HeloOff, false
}

// HostResolver is what the strict HELO check needs.
type HostResolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Helo checks the HELO/EHLO name. On an MTA listener (no AUTH) the
// refusal is the HELO reply; where clients may authenticate, it waits
// for MAIL and is dropped if the client authenticated meanwhile (mail
// programs often say EHLO with a laptop's name).
type Helo struct {
	Level    map[string]HeloLevel // by listener name; absent means off
	Hostname string               // ours
	// IsLocal reports whether a domain is one of ours (nil: only
	// Hostname counts).
	IsLocal  func(domain string) bool
	OwnAddrs []netip.Addr // our addresses
	Resolver HostResolver // for HeloStrict
	Exempt   Exempt
}

type heloKey struct{}

// CheckHelo implements inbound.HeloChecker.
func (h *Helo) CheckHelo(ctx context.Context, c *inbound.Conn) *inbound.Verdict {
	delete(c.Values, heloKey{})
	lvl := h.Level[c.Listener]
	if lvl == HeloOff || h.Exempt.Client(c) {
		return nil
	}
	v := h.Check(ctx, lvl, c.Helo, c.IP())
	if v == nil {
		return nil
	}
	if c.Mode != smtpd.ModeMTA {
		c.Values[heloKey{}] = v
		return nil
	}
	return v
}

// CheckMail implements inbound.MailChecker: the deferred refusal.
func (h *Helo) CheckMail(ctx context.Context, t *inbound.Txn) *inbound.Verdict {
	v, ok := t.Conn.Values[heloKey{}].(*inbound.Verdict)
	if !ok || t.Conn.AuthUser != "" {
		return nil
	}
	return v
}

// Check returns the verdict on name given by a client at ip, or nil.
func (h *Helo) Check(ctx context.Context, lvl HeloLevel, name string, ip netip.Addr) *inbound.Verdict {
	ip = ip.Unmap()
	n, err := ParseHelo(name)
	if err != nil {
		// RFC 5321 4.1.1.1: the argument is a domain or an address literal.
		return &inbound.Verdict{Rule: fmt.Sprintf("HELO %q: %v", name, err),
			Reply: &smtp.Reply{Code: 501, Enhanced: "5.5.2", Text: "invalid HELO/EHLO name: " + err.Error()}}
	}
	if lvl < HeloNormal {
		return nil
	}
	refuse := func(why string) *inbound.Verdict {
		return &inbound.Verdict{Rule: fmt.Sprintf("HELO %q from %s: %s", name, ip, why),
			Reply: &smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "HELO/EHLO name rejected: " + why}}
	}
	if n.IsLiteral() {
		if slices.Contains(h.OwnAddrs, n.Literal) && n.Literal != ip {
			return refuse("that is our address, not yours")
		}
		if n.Literal != ip {
			return refuse(fmt.Sprintf("address literal does not match your address %s", ip))
		}
		return nil
	}
	if n.Domain == h.Hostname || h.IsLocal != nil && h.IsLocal(n.Domain) {
		// Clients claiming to be us: a classic of spoofing.
		return refuse("that is our name, not yours")
	}
	if !n.FQDN() {
		return refuse("need a fully-qualified domain name")
	}
	if lvl < HeloStrict {
		return nil
	}
	if _, err := h.Resolver.LookupIPAddr(ctx, n.Domain+"."); err != nil {
		if dns.IsNotFound(err) {
			return refuse("the name has no address in the DNS")
		}
		return &inbound.Verdict{Rule: fmt.Sprintf("HELO %q: lookup failed", name),
			Reply: &smtp.Reply{Code: 450, Enhanced: "4.7.1", Text: "HELO/EHLO name cannot be checked now, try again later", Err: err}}
	}
	return nil
}
