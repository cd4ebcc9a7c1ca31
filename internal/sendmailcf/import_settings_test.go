package sendmailcf

import (
	"strings"
	"testing"
)

func TestSmartHost(t *testing.T) {
	for _, c := range []struct {
		in, relayMailer, want, err string
	}{
		{in: "relay:[mail.example.com]", want: "[mail.example.com]"},
		{in: "smtp:mail.example.com", want: "mail.example.com"},
		{in: "esmtp:[Mail.Example.COM.]", want: "[mail.example.com]"},
		{in: "smtp8:mx.example.net", want: "mx.example.net"},
		{in: "dsmtp:[relay.example.net]", want: "[relay.example.net]"},
		{in: "RELAY:[relay.example.net]", want: "[relay.example.net]"},
		{in: "[mail.example.com]", want: "[mail.example.com]"},
		{in: "mail.example.com", want: "mail.example.com"},
		{in: " mailhub ", want: "mailhub"},
		{in: "[192.0.2.25]", want: "[192.0.2.25]"},
		{in: "relay:192.0.2.25", want: "[192.0.2.25]"},
		{in: "esmtp:[IPv6:2001:db8::25]", want: "[IPv6:2001:db8::25]"},
		{in: "[IPv6:::ffff:192.0.2.1]", want: "[192.0.2.1]"},
		{in: "relay:[bücher.example]", want: "[xn--bcher-kva.example]"},
		{in: "mail.example.com", relayMailer: "esmtp", want: "mail.example.com"},
		// Listed, not written.
		{in: "mail.example.com", relayMailer: "uucp-new", err: "confRELAY_MAILER uucp-new"},
		{in: "esmtp:[mail.example.com]:587", err: "not as a port; if a port was meant, set smarthost = \"[mail.example.com]:587\""},
		{in: "relay:[a.example]:[b.example]", err: "list of hosts"},
		{in: "smtp:a.example:b.example", err: "list of hosts"},
		{in: "error:5.7.1:550 no relaying", err: "error mailer"},
		{in: "local:root", err: "local mailer"},
		{in: "uucp-new:uunet", err: "mailer uucp-new is not an SMTP mailer"},
		{in: "smtp:postmaster@hub.example", err: "one address"},
		{in: "relay:", err: "no host"},
		{in: "[mail.example.com", err: "missing ']'"},
		{in: "relay:[bad_name.example]", err: "not a valid domain"},
		{in: "$S", err: "macros"},
		{in: "[fe80::1%eth0]", err: "zoned"},
		{in: "", err: "empty"},
	} {
		got, err := smartHost(c.in, c.relayMailer)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("smartHost(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("smartHost(%q) = %q, %v; want an error with %q", c.in, got, err, c.err)
		}
	}
}

func TestLuserRelay(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "local:postmaster", want: "postmaster"},
		{in: "local:catchall@mx.example.com", want: "catchall"},
		{in: "relay:catchall@hub.example.com", want: "catchall@hub.example.com"},
		{in: "esmtp:Lost@Hub.Example.COM.", want: "Lost@hub.example.com"},
		// Listed, not written.
		{in: "error:5.1.1:550 User unknown", err: "leave luser_relay unset"},
		{in: "error:nouser No such user", err: "550 5.1.1"},
		{in: "mailhub.example.com", err: "same name at that host"},
		{in: "relay:mailhub.example.com", err: "same name at that host"},
		{in: "[192.0.2.5]", err: "same name at that host"},
		{in: "local:", err: "unknown user itself"},
		{in: "local:a b", err: "plain user name"},
		{in: "uucp-new:x@y.example", err: "not an SMTP mailer"},
		{in: "relay:x@[192.0.2.5]", err: "host name"},
		{in: "relay:a@b@c", err: "one address"},
		{in: "$u", err: "macros"},
	} {
		got, err := luserRelay(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("luserRelay(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("luserRelay(%q) = %q, %v; want an error with %q", c.in, got, err, c.err)
		}
	}
}

func TestParseMailFilter(t *testing.T) {
	for _, c := range []struct {
		equates string
		want    mailFilter
		err     string
	}{
		{equates: "S=unix:/var/run/milter.sock, F=T, T=S:4m;R:4m;E:10m",
			want: mailFilter{socket: "unix:/var/run/milter.sock", flags: "T", timeouts: "C:5m;S:4m;R:4m;E:10m"}},
		{equates: "S=local:/run/clamav/clamav-milter.ctl, F=R",
			want: mailFilter{socket: "unix:/run/clamav/clamav-milter.ctl", flags: "R", timeouts: "C:5m;S:10s;R:10s;E:5m"}},
		{equates: "S=inet:8891@127.0.0.1, F=",
			want: mailFilter{socket: "inet:127.0.0.1:8891", timeouts: "C:5m;S:10s;R:10s;E:5m"}},
		{equates: "S=inet:11332@LocalHost",
			want: mailFilter{socket: "inet:localhost:11332", timeouts: "C:5m;S:10s;R:10s;E:5m"}},
		{equates: "S=inet6:8891@[::1], T=C:15s;E:90",
			want: mailFilter{socket: "inet:[::1]:8891", timeouts: "C:15s;S:10s;R:10s;E:90"}},
		{equates: "s=unix:/x.sock,f=T,t=e:1h",
			want: mailFilter{socket: "unix:/x.sock", flags: "T", timeouts: "C:5m;S:10s;R:10s;E:1h"}},
		// Listed, not written.
		{equates: "F=T", err: "no socket"},
		{equates: "S=/var/run/x.sock", err: "write unix:"},
		{equates: "S=inet:99999@127.0.0.1", err: "port"},
		{equates: "S=unix:/x, F=RT", err: "choose one"},
		{equates: "S=unix:/x, F=4", err: "milter flags"},
		{equates: "S=unix:/x, T=E:2d", err: "unit"},
		{equates: "S=unix:/x, T=E:2h", err: "longer than"},
		{equates: "S=unix:/x, T=C:0", err: "positive"},
		{equates: "S=unix:/x, T=F:1m", err: "unknown timeout"},
		{equates: "S=unix:/x, S=unix:/y", err: "twice"},
		{equates: "S=unix:/x, Q=1", err: "no postern equivalent"},
		{equates: "S=unix:/x, junk", err: "not one of"},
	} {
		got, err := parseMailFilter("f", c.equates)
		c.want.name = "f"
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("parseMailFilter(%q) = %+v, %v; want %+v", c.equates, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("parseMailFilter(%q) = %+v, %v; want an error with %q", c.equates, got, err, c.err)
		}
	}
	if _, err := parseMailFilter(" ", "S=unix:/x"); err == nil {
		t.Error("a filter without a name was taken")
	}
}

// TestInputMailFilters follows m4's order: INPUT_MAIL_FILTER appends to
// confINPUT_MAIL_FILTERS, a define replaces what came before, and
// MAIL_FILTERs not named there are not used.
func TestInputMailFilters(t *testing.T) {
	for _, c := range []struct {
		name, mc string
		want     string // names written, in order
		notes    []string
	}{
		{name: "input filters in order",
			mc:   "INPUT_MAIL_FILTER(`a', `S=unix:/a')\nINPUT_MAIL_FILTER(`b', `S=unix:/b')\n",
			want: "a,b"},
		{name: "define before appends",
			mc:   "define(`confINPUT_MAIL_FILTERS', `x')\nMAIL_FILTER(`x', `S=unix:/x')\nINPUT_MAIL_FILTER(`a', `S=unix:/a')\n",
			want: "x,a"},
		{name: "define after replaces",
			mc:    "INPUT_MAIL_FILTER(`a', `S=unix:/a')\nINPUT_MAIL_FILTER(`b', `S=unix:/b')\ndefine(`confINPUT_MAIL_FILTERS', `b, a')\n",
			want:  "b,a",
			notes: nil},
		{name: "define after drops",
			mc:    "INPUT_MAIL_FILTER(`a', `S=unix:/a')\nINPUT_MAIL_FILTER(`b', `S=unix:/b')\ndefine(`confINPUT_MAIL_FILTERS', `b')\n",
			want:  "b",
			notes: []string{"t.mc:1: INPUT_MAIL_FILTER(`a'): not named in confINPUT_MAIL_FILTERS"}},
		{name: "mail filter alone is not used",
			mc:    "MAIL_FILTER(`a', `S=unix:/a')\n",
			want:  "",
			notes: []string{"t.mc:1: MAIL_FILTER(`a'): not named"}},
		{name: "undefine clears",
			mc:    "INPUT_MAIL_FILTER(`a', `S=unix:/a')\nundefine(`confINPUT_MAIL_FILTERS')\n",
			want:  "",
			notes: []string{"t.mc:1: INPUT_MAIL_FILTER(`a'): not named"}},
		{name: "named but undefined",
			mc:    "define(`confINPUT_MAIL_FILTERS', `ghost,a')\nMAIL_FILTER(`a', `S=unix:/a')\n",
			want:  "a",
			notes: []string{"t.mc:1: confINPUT_MAIL_FILTERS names ghost, which no"}},
		{name: "bad socket listed",
			mc:    "INPUT_MAIL_FILTER(`a', `S=tcp:1@h')\nINPUT_MAIL_FILTER(`b', `S=unix:/b, F=T')\n",
			want:  "b",
			notes: []string{"t.mc:1: INPUT_MAIL_FILTER(`a', `S=tcp:1@h'): not written as a [[milter]]"}},
		{name: "milter macros listed",
			mc:    "INPUT_MAIL_FILTER(`a', `S=unix:/a')\ndefine(`confMILTER_MACROS_ENVRCPT', `{rcpt_addr}, b')\n",
			want:  "a",
			notes: []string{"t.mc:2: confMILTER_MACROS_ENVRCPT: postern sends sendmail's default macros"}},
		{name: "redefined takes the last definition",
			mc:   "MAIL_FILTER(`a', `S=unix:/old')\nINPUT_MAIL_FILTER(`a', `S=unix:/new')\n",
			want: "a"},
	} {
		cfg, err := ParseMC("t.mc", c.mc)
		if err != nil {
			t.Fatal(err)
		}
		im := &Imported{}
		got := inputMailFilters(cfg, im)
		var names []string
		for _, m := range got {
			names = append(names, m.name)
		}
		if strings.Join(names, ",") != c.want {
			t.Errorf("%s: milters %v, want %s", c.name, names, c.want)
		}
		var notes strings.Builder
		for _, n := range im.NotCarried {
			notes.WriteString(n.String() + "\n")
		}
		for _, want := range c.notes {
			if !strings.Contains(notes.String(), want) {
				t.Errorf("%s: notes lack %q:\n%s", c.name, want, notes.String())
			}
		}
		if len(c.notes) == 0 && len(im.NotCarried) > 0 {
			t.Errorf("%s: unexpected notes:\n%s", c.name, notes.String())
		}
		if c.name == "redefined takes the last definition" && got[0].socket != "unix:/new" {
			t.Errorf("%s: socket %s", c.name, got[0].socket)
		}
	}
}

func TestLimits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "20971520", want: 20971520},
		{in: " 65536 ", want: 65536},
		{in: "65535", err: "65536"},
		{in: "0", err: "no limit"},
		{in: "-1", err: "no limit"},
		{in: "10M", err: "not a number"},
	} {
		got, err := messageSizeLimit(c.in)
		if (c.err == "" && (err != nil || got != c.want)) || (c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err))) {
			t.Errorf("messageSizeLimit(%q) = %d, %v", c.in, got, err)
		}
	}
	for _, c := range []struct {
		in   string
		want int
		err  string
	}{
		{in: "100", want: 100},
		{in: "25", want: 25},
		{in: "0", err: "no limit"},
		{in: "many", err: "not a number"},
	} {
		got, err := recipientLimit(c.in)
		if (c.err == "" && (err != nil || got != c.want)) || (c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err))) {
			t.Errorf("recipientLimit(%q) = %d, %v", c.in, got, err)
		}
	}
}

func TestDNSBLFeature(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want dnsblList
		err  string
	}{
		{name: "dnsbl", args: []string{"zen.spamhaus.org"}, want: dnsblList{zone: "zen.spamhaus.org", onError: "ignore"}},
		{name: "dnsbl", args: []string{"bl.example.", "", "t"}, want: dnsblList{zone: "bl.example", onError: "tempfail"}},
		{name: "dnsbl", args: []string{"bl.example", `"550 Mail from " $&{client_addr} " refused"`},
			want: dnsblList{zone: "bl.example", reply: "Mail from {ip} refused", onError: "ignore"}},
		{name: "dnsbl", args: []string{"bl.example", `"554 5.7.1 Listed"`, `"451 try later"`},
			want: dnsblList{zone: "bl.example", reply: "Listed", onError: "tempfail"}},
		{name: "enhdnsbl", args: []string{"zen.spamhaus.org", "", "", "127.0.0.2.", "127.0.0.$-."},
			want: dnsblList{zone: "zen.spamhaus.org", onError: "ignore", codes: []string{"127.0.0.2", "127.0.0.*"}}},
		{name: "enhdnsbl", args: []string{"bl.example", "", "t"}, want: dnsblList{zone: "bl.example", onError: "tempfail"}},
		// Listed, not written.
		{name: "dnsbl", args: nil, err: "no zone"},
		{name: "dnsbl", args: []string{"bad zone"}, err: ""},
		{name: "dnsbl", args: []string{"bl.example", "quarantine"}, err: "quarantine"},
		{name: "enhdnsbl", args: []string{"bl.example", "discard"}, err: "discard"},
		{name: "dnsbl", args: []string{"bl.example", `"451 later"`}, err: "5xx"},
		{name: "dnsbl", args: []string{"bl.example", `"550 from " $&{client_name}`}, err: "cannot fill in"},
		{name: "dnsbl", args: []string{"bl.example", `"550 unclosed`}, err: "unclosed"},
		{name: "dnsbl", args: []string{"bl.example", `"550"`}, err: "no text"},
		{name: "dnsbl", args: []string{"bl.example", "", "", "127.0.0.2."}, err: "three arguments"},
		{name: "enhdnsbl", args: []string{"bl.example", "", "", "127.0.$+"}, err: "not an address pattern"},
		{name: "enhdnsbl", args: []string{"bl.example", "", "", "127.0.0.$*."}, err: "not a number"},
		{name: "enhdnsbl", args: []string{"bl.example", "", "", "127.0.0.999."}, err: ""},
	} {
		got, _, err := dnsblFeature(c.name, c.args)
		if c.err != "" || c.want.zone == "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: %+v, %v; want an error with %q", c.name, c.args, got, err, c.err)
			}
			continue
		}
		if err != nil || got.zone != c.want.zone || got.reply != c.want.reply || got.onError != c.want.onError ||
			strings.Join(got.codes, ",") != strings.Join(c.want.codes, ",") {
			t.Errorf("%s %q: %+v, %v; want %+v", c.name, c.args, got, err, c.want)
		}
	}
}

// TestImportDNSBLOrder reads every FEATURE(`dnsbl') of a .mc in order,
// not only the last, and takes the stage from delay_checks.
func TestImportDNSBLOrder(t *testing.T) {
	cfg, err := ParseMC("t.mc", "FEATURE(`delay_checks')\nFEATURE(`dnsbl', `a.example')\nFEATURE(`enhdnsbl', `b.example', `', `t', `127.0.0.3.')\nFEATURE(`dnsbl', `c.example', `discard')\n")
	if err != nil {
		t.Fatal(err)
	}
	im := &Imported{}
	lists, stage := importDNSBL(cfg, im)
	if stage != "rcpt" || len(lists) != 2 || lists[0].zone != "a.example" || lists[1].zone != "b.example" {
		t.Errorf("stage %q, lists %+v", stage, lists)
	}
	if len(im.NotCarried) != 1 || !strings.Contains(im.NotCarried[0].String(), "t.mc:4: FEATURE(`dnsbl', `c.example', `discard'): not written") {
		t.Errorf("notes %v", im.NotCarried)
	}
}
