package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// DestinationPacing is one [[delivery.destination]] table: the pacing
// limits of one destination, the keys not given taken from [delivery].
// A destination is what Postfix calls the next hop: the recipient domain
// for mail sent to its MX hosts, else the host a mailertable route or the
// smarthost names.
type DestinationPacing struct {
	// Match is a recipient domain ("example.com") or a next hop as the
	// mailertable or smarthost writes it ("[mx.example.net]",
	// "[192.0.2.1]:2525", "relay.example.net"), in lower case.
	Match string `toml:"match"`
	// Concurrency bounds the sessions to it at once.
	Concurrency int `toml:"concurrency"`
	// RateDelay is the least time between two deliveries; 0 means none.
	RateDelay Delay `toml:"rate_delay"`
	// RecipientLimit is the most recipients in one transaction.
	RecipientLimit int `toml:"recipient_limit"`
}

// Delay is a duration that may be zero: "0s", "0" or "" mean none.
type Delay time.Duration

// Duration is the delay as a time.Duration.
func (v Delay) Duration() time.Duration { return time.Duration(v) }

// decodeTOML implements selfDecoder.
func (v *Delay) decodeTOML(raw any) error {
	s, ok := raw.(string)
	if !ok {
		return fmt.Errorf("must be a duration such as \"1s\" (\"0s\" for none), not %s", typeName(raw))
	}
	if s == "" || s == "0" {
		*v = 0
		return nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur < 0 {
		return fmt.Errorf("%q is not a duration such as \"1s\" (\"0s\" for none)", s)
	}
	*v = Delay(dur)
	return nil
}

// Defaults of pacing: Postfix's default_destination_recipient_limit; no
// rate delay.
const DefaultDestinationRecipientLimit = 50

// deliveryPacing checks the pacing keys and fills each destination's
// keys not given from [delivery].
func (d *decoder) deliveryPacing(r *DeliveryRemote) {
	if r.DestinationRecipientLimit < 1 {
		d.errorf("delivery.destination_recipient_limit", "delivery.destination_recipient_limit must be at least 1")
	}
	seen := map[string]bool{}
	for i := range r.Destinations {
		p := indexPath("delivery.destination", i)
		x := &r.Destinations[i]
		m, err := normalizeDestination(x.Match)
		if err != nil {
			d.errorf(p+".match", "delivery.destination %d: match: %v", i+1, err)
		} else if seen[m] {
			d.errorf(p+".match", "delivery.destination %d: %s is listed twice", i+1, m)
		}
		seen[m], x.Match = true, m
		if !d.defined[p+".concurrency"] && !d.defined[p+".rate_delay"] && !d.defined[p+".recipient_limit"] {
			d.warnf(p, "delivery.destination %d (%s) sets none of concurrency, rate_delay, recipient_limit", i+1, m)
		}
		for _, k := range []struct {
			key string
			v   *int
			def int
		}{{"concurrency", &x.Concurrency, r.DestinationConcurrency}, {"recipient_limit", &x.RecipientLimit, r.DestinationRecipientLimit}} {
			switch {
			case !d.defined[p+"."+k.key]:
				*k.v = k.def
			case *k.v < 1:
				d.errorf(p+"."+k.key, "delivery.destination %d: %s must be at least 1", i+1, k.key)
			}
		}
		if !d.defined[p+".rate_delay"] {
			x.RateDelay = r.DestinationRateDelay
		}
		if x.RateDelay > 0 && d.defined[p+".concurrency"] && x.Concurrency > 1 {
			d.warnf(p+".concurrency", "delivery.destination %d: concurrency %d has no effect while rate_delay is set (one delivery at a time)", i+1, x.Concurrency)
		}
	}
}

// normalizeDestination gives the form delivery compares: a domain in
// lower case, or a next hop "host", "[host]" or either with ":port"; an
// address is always in brackets (delivery takes it as the host itself).
func normalizeDestination(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty")
	}
	if err := checkSmarthost(s); err != nil {
		return "", err
	}
	host, port, bracket := s, "", strings.HasPrefix(s, "[")
	if bracket {
		j := strings.IndexByte(s, ']')
		host, port = s[1:j], s[j+1:]
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.Count(s, ":") == 1 {
		host, port = s[:i], s[i:]
	}
	if a, err := netip.ParseAddr(strings.TrimPrefix(strings.TrimPrefix(host, "IPv6:"), "ipv6:")); err == nil {
		return "[" + a.Unmap().String() + "]" + port, nil
	}
	n, err := NormalizeDomain(host)
	if err != nil {
		return "", err
	}
	if bracket {
		n = "[" + n + "]"
	}
	return n + port, nil
}
