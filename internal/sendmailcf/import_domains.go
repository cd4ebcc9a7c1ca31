package sendmailcf

import (
	"fmt"
	"net"
	"strings"
)

// importDomains reads local-host-names into local_domains, and
// relay-domains into relay_domains (its domains) and trusted_networks
// (its networks).
func importDomains(read readFunc, s *importSetup, im *Imported) error {
	// sendmail lets the host itself relay (its own addresses), not the
	// whole loopback network.
	s.trusted = []string{"127.0.0.1/32", "::1/128"}
	if src, ok, err := read("local-host-names"); err != nil {
		return err
	} else if ok {
		s.localDomains = localHostNames(src, im)
	}
	if src, ok, err := read("relay-domains"); err != nil {
		return err
	} else if ok {
		relayDomainList(src, s, im)
	}
	return nil
}

// localHostNames returns the domains of local-host-names; addresses are
// noted and left out.
func localHostNames(src string, im *Imported) []string {
	var localDomains []string
	for _, s := range ReadList(src) {
		v := strings.Trim(s.Value, "[]")
		if ip := net.ParseIP(v); ip != nil {
			im.NotCarried = append(im.NotCarried, Note{File: "local-host-names", Line: s.Line,
				Text: "address " + s.Value + " is not a domain; postern treats mail to its own listening addresses' literals as local by itself"})
			continue
		}
		localDomains = appendUnique(localDomains, strings.ToLower(strings.TrimSuffix(s.Value, ".")))
	}
	return localDomains
}

// relayDomainList splits relay-domains into the domains postern relays
// for (st.relayDomains) and the networks it trusts (st.trusted), noting
// how each changes meaning.
func relayDomainList(src string, st *importSetup, im *Imported) {
	for _, s := range ReadList(src) {
		if isAddr, bits := NetworkKey(s.Value); isAddr {
			cidr, err := toCIDR(s.Value)
			if err != nil {
				im.NotCarried = append(im.NotCarried, Note{File: "relay-domains", Line: s.Line, Text: s.Value + ": " + err.Error()})
				continue
			}
			st.trusted = appendUnique(st.trusted, cidr)
			im.Changed = append(im.Changed, Note{File: "relay-domains", Line: s.Line,
				Text: fmt.Sprintf("network %s (/%d) moved to trusted_networks as %s: its hosts may relay without AUTH", s.Value, bits, cidr)})
			continue
		}
		st.relayDomains = appendUnique(st.relayDomains, strings.ToLower(s.Value))
		im.Changed = append(im.Changed, Note{File: "relay-domains", Line: s.Line,
			Text: "domain " + s.Value + ": postern accepts and forwards mail addressed to it; unlike sendmail, hosts whose reverse DNS is in " + s.Value + " may no longer relay (list their addresses in trusted_networks)"})
	}
}

// toCIDR turns sendmail's network forms (192.168.2, 10.0.0.0/8,
// IPv6:2001:db8::/32) into CIDR notation.
func toCIDR(key string) (string, error) {
	k := key
	if strings.HasPrefix(strings.ToLower(k), "ipv6:") {
		k = k[5:]
	}
	if _, n, err := net.ParseCIDR(k); err == nil {
		return n.String(), nil
	}
	if ip := net.ParseIP(k); ip != nil {
		if ip.To4() != nil {
			return ip.String() + "/32", nil
		}
		return ip.String() + "/128", nil
	}
	parts := strings.Split(k, ".")
	if len(parts) >= 1 && len(parts) <= 3 {
		oct := append(parts, make([]string, 4-len(parts))...)
		for i := len(parts); i < 4; i++ {
			oct[i] = "0"
		}
		ip := net.ParseIP(strings.Join(oct, "."))
		if ip != nil {
			return fmt.Sprintf("%s/%d", ip, 8*len(parts)), nil
		}
	}
	return "", fmt.Errorf("cannot turn %q into a network", key)
}

func appendUnique(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}
