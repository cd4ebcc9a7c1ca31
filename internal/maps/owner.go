package maps

import (
	"fmt"
	"strings"
)

// maxOwnerTargets bounds the alias expansion looked at for ownership.
const maxOwnerTargets = 1000

// Owns decides whether a logged-in user may use addr as a sender (the
// envelope sender or a From: address), and says why. In order:
//
//  1. the login's own address;
//  2. the sender-login entry for exactly addr, when there is one, decides;
//  3. the sender-login entry for addr's domain, when it lists the login;
//  4. in a local domain, a virtusertable entry for addr (not a catch-all)
//     or an alias of addr's local part that delivers to the login.
//
// Anything else is not the login's to use. isLocal reports the domains
// delivered here; aliases are only looked at for them.
func (m *Maps) Owns(login, addr string, isLocal func(string) bool) (bool, string) {
	login = strings.ToLower(strings.TrimSpace(login))
	local, domain, ok := normAddress(addr)
	if !ok || local == "" || login == "" {
		return false, fmt.Sprintf("%s is not an address a login can own", addr)
	}
	a := local + "@" + domain
	if a == login {
		return true, fmt.Sprintf("%s is the login's own address", a)
	}
	if m == nil {
		m = &Maps{}
	}
	if e, ok := m.SenderLogin.Address(a); ok {
		if e.Has(login) {
			return true, e.Rule()
		}
		return false, fmt.Sprintf("%s: %s is not listed", e.Rule(), login)
	}
	if e, ok := m.SenderLogin.Domain(a); ok && e.Has(login) {
		return true, e.Rule()
	}
	if isLocal != nil && isLocal(domain) {
		if rule, ok := m.deliversTo(local, domain, login); ok {
			return true, rule
		}
	}
	return false, fmt.Sprintf("%s is not %s's address: no sender-login entry for it or for @%s lists %s, and no alias or virtusertable entry delivers it to %s",
		a, login, domain, login, login)
}

// deliversTo reports whether local@domain is delivered to login by the
// virtusertable (an entry for the address itself) or the aliases.
func (m *Maps) deliversTo(local, domain, login string) (string, bool) {
	if v, ok := m.Virtusertable.Lookup(local + "@" + domain); ok && !strings.HasPrefix(v.Key, "@") && !strings.HasPrefix(v.Key, "+") {
		target := qualify(v.Kind == VirtLocal, v.Kind == VirtAddress, v.Address, domain)
		if target == login {
			return "virtusertable " + v.Rule(), true
		}
		if tl, td, ok := splitAddress(target); ok && td == domain {
			if rule, ok := m.aliasDeliversTo(tl, domain, login); ok {
				return "virtusertable " + v.Rule() + "; " + rule, true
			}
		}
		return "", false
	}
	return m.aliasDeliversTo(local, domain, login)
}

// aliasDeliversTo reports whether the alias local delivers to login.
// Include files, files and commands are not followed.
func (m *Maps) aliasDeliversTo(local, domain, login string) (string, bool) {
	al, ok := m.Aliases.Lookup(local)
	if !ok {
		return "", false
	}
	x := m.Aliases.Expand(local, ExpandOptions{NoIncludes: true})
	for i, t := range x.Targets {
		if i >= maxOwnerTargets {
			break
		}
		if qualify(t.Kind == TargetLocal, t.Kind == TargetAddress, t.Value, domain) == login {
			return fmt.Sprintf("alias %s (%s) delivers to %s", al.Name, al.Source.Human(), login), true
		}
	}
	return "", false
}

// qualify is the address a local name (at domain) or an address stands
// for, lower case; "" for anything else.
func qualify(local, address bool, v, domain string) string {
	switch {
	case local:
		return strings.ToLower(v) + "@" + domain
	case address:
		return strings.ToLower(v)
	}
	return ""
}
