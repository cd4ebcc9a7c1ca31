package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDeliveryPacing(t *testing.T) {
	r, d := decodeRemote(t, `[delivery]
destination_concurrency = 10
destination_rate_delay = "0s"
destination_recipient_limit = 20

[[delivery.destination]]
match = "Slow.Example"
rate_delay = "1s"

[[delivery.destination]]
match = "[MX.Partner.Example]:2525"
concurrency = 4
recipient_limit = 100

[[delivery.destination]]
match = "192.0.2.7"
concurrency = 2

[[delivery.destination]]
match = "relay.example.net"
recipient_limit = 5
`)
	if len(d.problems) > 0 || len(d.warnings) > 0 {
		t.Fatalf("problems %v, warnings %v", d.problems, d.warnings)
	}
	want := []DestinationPacing{
		{Match: "slow.example", Concurrency: 10, RateDelay: Delay(time.Second), RecipientLimit: 20},
		{Match: "[mx.partner.example]:2525", Concurrency: 4, RecipientLimit: 100},
		{Match: "[192.0.2.7]", Concurrency: 2, RecipientLimit: 20},
		{Match: "relay.example.net", Concurrency: 10, RecipientLimit: 5},
	}
	if !reflect.DeepEqual(r.Destinations, want) {
		t.Errorf("got  %+v\nwant %+v", r.Destinations, want)
	}
	if r.DestinationRateDelay != 0 || r.DestinationRecipientLimit != 20 {
		t.Errorf("defaults: %v %d", r.DestinationRateDelay, r.DestinationRecipientLimit)
	}

	// A default rate delay is inherited; "0s" turns it off for one.
	r, d = decodeRemote(t, "[delivery]\ndestination_rate_delay = \"2s\"\n[[delivery.destination]]\nmatch = \"a.example\"\nrecipient_limit = 3\n[[delivery.destination]]\nmatch = \"b.example\"\nrate_delay = \"0s\"\n")
	if len(d.problems) > 0 {
		t.Fatal(d.problems)
	}
	if r.Destinations[0].RateDelay != Delay(2*time.Second) || r.Destinations[1].RateDelay != 0 {
		t.Errorf("inherited rate delays: %+v", r.Destinations)
	}
}

func TestDeliveryPacingErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"destination_recipient_limit = 0", "destination_recipient_limit must be at least 1"},
		{"destination_rate_delay = \"-1s\"", "destination_rate_delay"},
		{"destination_rate_delay = 5", "destination_rate_delay must be a duration"},
		{"[[delivery.destination]]\nmatch = \"a..example\"\nconcurrency = 1", "delivery.destination 1: match"},
		{"[[delivery.destination]]\nconcurrency = 1", "match: empty"},
		{"[[delivery.destination]]\nmatch = \"[x.example\"\nconcurrency = 1", "missing ']'"},
		{"[[delivery.destination]]\nmatch = \"a.example\"\nconcurrency = 0", "concurrency must be at least 1"},
		{"[[delivery.destination]]\nmatch = \"a.example\"\nrecipient_limit = -1", "recipient_limit must be at least 1"},
		{"[[delivery.destination]]\nmatch = \"a.example\"\nrate_delay = \"soon\"", "rate_delay"},
		{"[[delivery.destination]]\nmatch = \"a.example\"\nconcurrency = 1\n[[delivery.destination]]\nmatch = \"A.example\"\nconcurrency = 2", "listed twice"},
		{"[[delivery.destination]]\nmatch = \"a.example\"\nconcurency = 2", "did you mean concurrency"},
	} {
		_, d := decodeRemote(t, "[delivery]\n"+c.text+"\n")
		var msgs []string
		for _, p := range d.problems {
			msgs = append(msgs, p.Msg)
			if p.Line == 0 {
				t.Errorf("%q: problem without a line: %s", c.text, p.Msg)
			}
		}
		if !strings.Contains(strings.Join(msgs, "; "), c.want) {
			t.Errorf("%q: problems %q, want one with %q", c.text, msgs, c.want)
		}
	}
	for _, c := range []struct{ text, want string }{
		{"[[delivery.destination]]\nmatch = \"a.example\"", "sets none"},
		{"[[delivery.destination]]\nmatch = \"a.example\"\nrate_delay = \"1s\"\nconcurrency = 5", "no effect"},
	} {
		_, d := decodeRemote(t, "[delivery]\n"+c.text+"\n")
		var msgs []string
		for _, w := range d.warnings {
			msgs = append(msgs, w.Msg)
		}
		if !strings.Contains(strings.Join(msgs, "; "), c.want) || len(d.problems) > 0 {
			t.Errorf("%q: warnings %q problems %v, want a warning with %q", c.text, msgs, d.problems, c.want)
		}
	}
}
