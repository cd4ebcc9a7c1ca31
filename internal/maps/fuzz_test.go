package maps

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// checkErr verifies that a parse error is a ParseErrors naming the file and
// a line.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe ParseErrors
	if !errors.As(err, &pe) || len(pe) == 0 {
		t.Fatalf("error is not ParseErrors: %v", err)
	}
	for _, e := range pe {
		if e.File != "fuzz" || e.Line < 1 {
			t.Fatalf("bad position in %v", e)
		}
	}
}

func probeIP(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a
	}
	return netip.MustParseAddr("192.0.2.1")
}

func FuzzAccess(f *testing.F) {
	f.Add(testAccess, "192.168.2.1")
	f.Add("Connect:10 RELAY\nFrom:a@b.example ERROR:5.7.1:550 x\n", "a@b.example")
	f.Add("IPv6:2001:db8 OK\n2001:db8::/32 REJECT\n", "2001:db8::1")
	f.Add("ClientRate: 5\nClientConn:10.1 2\nTry_TLS:x.example NO\n", "x.example")
	f.Fuzz(func(t *testing.T, data, probe string) {
		a, err := ParseAccess("fuzz", strings.NewReader(data))
		checkErr(t, err)
		if err != nil {
			return
		}
		ip := probeIP(probe)
		check := func(e AccessEntry, ok bool) {
			if ok && (e.Source.Line < 1 || e.Lookup == "") {
				t.Fatalf("entry without source: %+v", e)
			}
			if ok {
				_ = e.Rule()
				e.Reply()
			}
		}
		check(a.Connect(ip, probe))
		check(a.From(probe))
		check(a.To(probe))
		check(a.ClientRate(ip))
		check(a.ClientConn(ip))
		check(a.TryTLS(probe, ip))
		check(a.SrvFeatures(probe, ip))
		check(a.TLSClient(probe, ip))
		check(a.TLSServer(probe, ip))
		check(a.CertRelay(probe, probe))
		// Every IP key written as an address finds its own entry.
		for _, ln := range strings.Split(data, "\n") {
			k, _ := splitKV(ln)
			if strings.HasPrefix(k, "Connect:") {
				if addr, err := netip.ParseAddr(k[len("Connect:"):]); err == nil && addr.Zone() == "" {
					if _, ok := a.Connect(addr, ""); !ok {
						t.Fatalf("Connect(%s) found nothing for its own key", addr)
					}
				}
			}
		}
		_ = a.Warnings()
	})
}

func FuzzAliases(f *testing.F) {
	f.Add(testAliases, "staff")
	f.Add("a: b\nb: a\n", "a")
	f.Add("list: \"|/bin/prog x,y\", /tmp/f, \\me\n  , other@example.org\n", "list")
	f.Fuzz(func(t *testing.T, data, name string) {
		a, err := ParseAliases("fuzz", strings.NewReader(data))
		checkErr(t, err)
		if err != nil {
			return
		}
		opt := ExpandOptions{NoIncludes: true, AllowFiles: true, AllowCommands: true,
			IsLocal: func(d string) bool { return true }}
		names := []string{name}
		for k := range a.m {
			names = append(names, k)
		}
		for _, n := range names {
			x := a.Expand(n, opt)
			if len(x.Targets) > 10000 {
				t.Fatalf("expansion of %q too large", n)
			}
			for _, tg := range x.Targets {
				if tg.Kind == TargetError && tg.Err == nil {
					t.Fatalf("error target without error")
				}
				if tg.Kind == TargetInclude {
					t.Fatalf("include left in expansion")
				}
			}
		}
	})
}

func FuzzVirtusertable(f *testing.F) {
	f.Add(testVirt, "john+news@example.com")
	f.Add("@x.example %1+%2%3@y.example\n", "a+b@x.example")
	f.Add("a@x.example error:nouser gone\n", "a@x.example")
	f.Fuzz(func(t *testing.T, data, addr string) {
		v, err := ParseVirtusertable("fuzz", strings.NewReader(data))
		checkErr(t, err)
		if err != nil {
			return
		}
		r, ok := v.Lookup(addr)
		if ok {
			if r.Source.Line < 1 || r.Key == "" {
				t.Fatalf("result without key/source: %+v", r)
			}
			if r.Kind == VirtError && (r.Code < 400 || r.Code > 599) {
				t.Fatalf("bad error code %d", r.Code)
			}
		}
	})
}

func FuzzMailertable(f *testing.F) {
	f.Add(testMailertable, "a.example.com")
	f.Add(". smtp:[h.example]:25\n", "x.test")
	f.Add("x.example esmtp:a.example:b.example:[192.0.2.1]:26\n", "x.example")
	f.Fuzz(func(t *testing.T, data, domain string) {
		mt, err := ParseMailertable("fuzz", strings.NewReader(data))
		checkErr(t, err)
		if err != nil {
			return
		}
		r, ok := mt.Lookup(domain)
		if !ok {
			return
		}
		if r.Source.Line < 1 {
			t.Fatalf("route without source: %+v", r)
		}
		if r.IsSMTP() && len(r.Hops) == 0 {
			t.Fatalf("SMTP route without hops: %+v", r)
		}
		for _, h := range r.Hops {
			if h.Host == "" || h.Port < 0 || h.Port > 65535 {
				t.Fatalf("bad hop %+v", h)
			}
		}
	})
}

func FuzzGenericstable(f *testing.F) {
	f.Add("alice Alice.Smith@example.com\nbob@h.example.com robert@example.com\n", "bob@h.example.com")
	f.Add("root admin\n", "root")
	f.Fuzz(func(t *testing.T, data, addr string) {
		g, err := ParseGenericstable("fuzz", strings.NewReader(data))
		checkErr(t, err)
		if err != nil {
			return
		}
		_, d, _ := normAddress(addr)
		r, ok := g.Lookup(addr, GenericsOptions{Domains: []string{d}, EntireDomain: true})
		if ok && (r.Address == "" || r.Source.Line < 1) {
			t.Fatalf("bad result %+v", r)
		}
		m := Masquerade{As: "example.com", Domains: []string{d}, Exposed: []string{"root"}}
		m.Rewrite(addr)
	})
}

func FuzzDomainList(f *testing.F) {
	f.Add("example.com\n128.32\nIPv6:2002:c0a8:02c7\n192.0.2.0/24\n", "mx.example.com")
	f.Add("[192.0.2.1] localhost\n", "[192.0.2.1]")
	f.Fuzz(func(t *testing.T, data, probe string) {
		for _, parse := range []func(string, *strings.Reader) (*DomainList, error){
			func(n string, r *strings.Reader) (*DomainList, error) { return ParseRelayDomains(n, r) },
			func(n string, r *strings.Reader) (*DomainList, error) { return ParseLocalHostNames(n, r) },
		} {
			l, err := parse("fuzz", strings.NewReader(data))
			checkErr(t, err)
			if err != nil {
				continue
			}
			if m, ok := l.Contains(probe); ok && m.Source.Line < 1 {
				t.Fatalf("match without source")
			}
			l.ContainsIP(probeIP(probe))
			// Every listed name is found by itself.
			for _, n := range l.Names() {
				if _, ok := l.Contains(n); !ok {
					t.Fatalf("Contains(%q) false for a listed name", n)
				}
			}
		}
	})
}

func FuzzSenderLogin(f *testing.F) {
	f.Add(testSenderLogin, "boss@example.test", "carol@example.test")
	f.Add("@example.test a@example.test b\n", "x@EXAMPLE.test.", "b")
	f.Add("a@[192.0.2.1] l\n", "a@[192.0.2.1]", "l")
	f.Fuzz(func(t *testing.T, data, addr, login string) {
		s, err := ParseSenderLogin("fuzz", strings.NewReader(data))
		checkErr(t, err)
		if err != nil {
			return
		}
		for _, get := range []func(string) (*SenderLoginEntry, bool){s.Address, s.Domain} {
			if e, ok := get(addr); ok && (len(e.Logins) == 0 || e.Source.Line < 1) {
				t.Fatalf("bad entry %+v", e)
			}
		}
		m := &Maps{SenderLogin: s}
		if ok, rule := m.Owns(login, addr, func(string) bool { return true }); rule == "" {
			t.Fatalf("Owns(%q, %q) = %v without a rule", login, addr, ok)
		}
	})
}
