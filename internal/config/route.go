package config

import (
	"strings"
)

// Routing holds the top-level keys of the access map's relay meaning.
// It is embedded in Config: its keys sit at the top of the file.
type Routing struct {
	// AllowSenderRelay honours access-map "From:... RELAY" entries
	// (sendmail's FEATURE(relay_mail_from)): relaying because of the
	// sender address a client claims. Off by default: a sender address is
	// trivially forged. `postern check` warns about such entries either way.
	AllowSenderRelay bool `toml:"allow_sender_relay"`
}

// DeliveryRoute holds the [delivery] keys of recipient and sender
// rewriting: aliases, .forward, LUSER_RELAY, genericstable and
// masquerading. It is embedded in Delivery.
type DeliveryRoute struct {
	// LuserRelay receives mail for unknown users of local domains, as
	// sendmail's LUSER_RELAY; "" refuses them at RCPT with 550 5.1.1.
	LuserRelay string `toml:"luser_relay"`
	// ForwardPath lists where .forward files are looked for, with $home
	// (the system user's home directory) and $user; empty disables
	// .forward files (the default).
	ForwardPath []string `toml:"forward_path"`
	// AllowAliasFiles lets aliases (and .forward files) deliver to
	// "/path" targets; off by default.
	AllowAliasFiles bool `toml:"allow_alias_files"`
	// AllowAliasCommands lets aliases (and .forward files) pipe to
	// "|command" targets; off by default.
	AllowAliasCommands bool `toml:"allow_alias_commands"`
	// MasqueradeAs is sendmail's MASQUERADE_AS: the domain that replaces
	// ours in the sender of mail leaving the host; "" = no masquerading.
	MasqueradeAs string `toml:"masquerade_as"`
	// MasqueradeDomains are masqueraded too (MASQUERADE_DOMAIN), besides
	// the local domains.
	MasqueradeDomains []string `toml:"masquerade_domains"`
	// MasqueradeEntireDomain also masquerades subdomains
	// (FEATURE(masquerade_entire_domain)).
	MasqueradeEntireDomain bool `toml:"masquerade_entire_domain"`
	// MasqueradeExposed users keep their host name (EXPOSED_USER). When
	// the key is absent (nil) it is ["root"], as sendmail's class E;
	// "masquerade_exposed = []" exposes nobody.
	MasqueradeExposed []string `toml:"masquerade_exposed"`
	// GenericsDomains is sendmail's class G (GENERICS_DOMAIN): sender
	// domains the genericstable rewrites. Empty means the local domains.
	GenericsDomains []string `toml:"generics_domains"`
	// GenericsEntireDomain also covers their subdomains
	// (FEATURE(generics_entire_domain)).
	GenericsEntireDomain bool `toml:"generics_entire_domain"`
}

// DefaultDeliveryRoute is the embedded and file default.
func DefaultDeliveryRoute() DeliveryRoute {
	return DeliveryRoute{}
}

// Exposed returns the exposed users: MasqueradeExposed, or root (as
// sendmail's class E) when the key was not given.
func (r DeliveryRoute) Exposed() []string {
	if r.MasqueradeExposed == nil {
		return []string{"root"}
	}
	return r.MasqueradeExposed
}

// deliveryRoute validates the routing keys.
func (d *decoder) deliveryRoute(c *Config) {
	r := &c.Delivery.DeliveryRoute
	if r.LuserRelay != "" {
		if strings.ContainsAny(r.LuserRelay, " \t,<>\"") || strings.HasPrefix(r.LuserRelay, "@") || strings.HasSuffix(r.LuserRelay, "@") {
			d.errorf("delivery.luser_relay", "delivery.luser_relay %q: want one address (user@domain) or a local user name", r.LuserRelay)
		} else if local, dom, ok := strings.Cut(r.LuserRelay, "@"); ok {
			n, err := NormalizeDomain(dom)
			if err != nil {
				d.errorf("delivery.luser_relay", "delivery.luser_relay: %v", err)
			} else {
				r.LuserRelay = local + "@" + n
			}
		}
	}
	for i, p := range r.ForwardPath {
		key := indexPath("delivery.forward_path", i)
		if !strings.HasPrefix(p, "$home/") && !strings.HasPrefix(p, "/") {
			d.errorf(key, "delivery.forward_path %q: want an absolute path or one starting with $home/", p)
			continue
		}
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(p, "$home", ""), "$user", ""), "$") {
			d.errorf(key, "delivery.forward_path %q: only $home and $user may be used", p)
		}
	}
	if r.MasqueradeAs != "" {
		n, err := NormalizeDomain(r.MasqueradeAs)
		if err != nil {
			d.errorf("delivery.masquerade_as", "delivery.masquerade_as: %v", err)
		}
		r.MasqueradeAs = n
	}
	r.MasqueradeDomains = d.domains("delivery.masquerade_domains", r.MasqueradeDomains)
	r.GenericsDomains = d.domains("delivery.generics_domains", r.GenericsDomains)
	if len(r.MasqueradeDomains) > 0 && r.MasqueradeAs == "" {
		d.warnf("delivery.masquerade_domains", "delivery.masquerade_domains is set but delivery.masquerade_as is not: nothing is masqueraded")
	}
	if r.AllowAliasCommands {
		d.warnf("delivery.allow_alias_commands", "delivery.allow_alias_commands: aliases may run programs")
	}
	if c.AllowSenderRelay {
		d.warnf("allow_sender_relay", "allow_sender_relay: access-map From:... RELAY entries let anyone who claims such a sender relay through this server")
	}
}
