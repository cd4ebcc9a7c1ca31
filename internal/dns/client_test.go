package dns_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	pdns "postern/internal/dns"
	"postern/internal/dnstest"
)

// rcodeZone has, for each lookup type, a name that exists with the
// record, one that exists without it (NODATA), one that does not exist,
// and names answered with SERVFAIL and REFUSED.
var rcodeZone = dnstest.Zone{
	"ok.example.test TXT":      {"hello"},
	"ok.example.test MX":       {"10 mx.example.test."},
	"ok.example.test A":        {"127.0.0.5"},
	"nodata.example.test SPF":  {"v=spf1 -all"},
	"sf.example.test SERVFAIL": nil,
	"rf.example.test REFUSED":  nil,

	"5.0.0.127.in-addr.arpa PTR":      {"ok.example.test."},
	"6.0.0.127.in-addr.arpa TXT":      {"no PTR here"},
	"7.0.0.127.in-addr.arpa SERVFAIL": nil,
	"8.0.0.127.in-addr.arpa REFUSED":  nil,
}

// lookups runs each lookup type on a name; for LookupAddr the "name" is
// mapped to an address by addrFor.
var lookups = map[string]func(r pdns.Resolver, ctx context.Context, name string) (int, error){
	"TXT": func(r pdns.Resolver, ctx context.Context, name string) (int, error) {
		v, err := r.LookupTXT(ctx, name)
		return len(v), err
	},
	"MX": func(r pdns.Resolver, ctx context.Context, name string) (int, error) {
		v, err := r.LookupMX(ctx, name)
		return len(v), err
	},
	"IPAddr": func(r pdns.Resolver, ctx context.Context, name string) (int, error) {
		v, err := r.LookupIPAddr(ctx, name)
		return len(v), err
	},
	"Host": func(r pdns.Resolver, ctx context.Context, name string) (int, error) {
		v, err := r.LookupHost(ctx, name)
		return len(v), err
	},
	"Addr": func(r pdns.Resolver, ctx context.Context, name string) (int, error) {
		v, err := r.LookupAddr(ctx, addrFor[name])
		return len(v), err
	},
}

var addrFor = map[string]string{
	"ok.example.test":     "127.0.0.5",
	"nodata.example.test": "127.0.0.6",
	"nx.example.test":     "127.0.0.9",
	"sf.example.test":     "127.0.0.7",
	"rf.example.test":     "127.0.0.8",
}

func TestLookupRcodes(t *testing.T) {
	srv := dnstest.Start(t, rcodeZone)
	r := srv.Resolver()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want string // "ok", "notfound", "temporary"
	}{
		{"ok.example.test", "ok"},
		{"nodata.example.test", "notfound"},
		{"nx.example.test", "notfound"},
		{"sf.example.test", "temporary"},
		{"rf.example.test", "temporary"},
	} {
		for kind, lookup := range lookups {
			n, err := lookup(r, ctx, tc.name)
			got := "ok"
			switch {
			case pdns.IsNotFound(err):
				got = "notfound"
			case pdns.IsTemporary(err):
				got = "temporary"
			case err == nil && n == 0:
				got = "empty"
			}
			if got != tc.want {
				t.Errorf("%s %s: got %s (%d records, %v), want %s", kind, tc.name, got, n, err, tc.want)
			}
			var de *net.DNSError
			if err != nil && !errors.As(err, &de) {
				t.Errorf("%s %s: %T is not a *net.DNSError", kind, tc.name, err)
			}
			if pdns.IsNotFound(err) && pdns.IsTemporary(err) {
				t.Errorf("%s %s: both not found and temporary", kind, tc.name)
			}
		}
	}
}

// TestIPAddrHalfFailure is the case net.Resolver sometimes reported as
// "no such host": A answered SERVFAIL (or nothing), AAAA answered NODATA.
// It must always be a temporary failure.
func TestIPAddrHalfFailure(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"half.example.test TXT":       {"exists"},
		"half.example.test SERVFAIL":  {"A"},
		"six.example.test A":          {"127.0.0.1"},
		"six.example.test REFUSED":    {"AAAA"},
		"slow.example.test TXT":       {"exists"},
		"slow.example.test TIMEOUT":   {"A"},
		"mixed.example.test A":        {"127.0.0.1"},
		"mixed.example.test SERVFAIL": {"AAAA"},
	})
	r := pdns.New(pdns.Options{Servers: []string{srv.Addr}, Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		for _, name := range []string{"half.example.test", "six.example.test", "mixed.example.test"} {
			ips, err := r.LookupIPAddr(ctx, name)
			if pdns.IsNotFound(err) || !pdns.IsTemporary(err) {
				t.Fatalf("try %d, %s: %v %v, want a temporary failure", i, name, ips, err)
			}
		}
		if _, err := r.LookupHost(ctx, "half.example.test"); !pdns.IsTemporary(err) {
			t.Fatalf("try %d, LookupHost: %v, want a temporary failure", i, err)
		}
	}
	_, err := r.LookupIPAddr(ctx, "slow.example.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTimeout || pdns.IsNotFound(err) {
		t.Fatalf("A timeout: %v, want a timeout", err)
	}
}

func TestCNAME(t *testing.T) {
	zone := dnstest.Zone{
		"a.example.test CNAME":        {"b.example.test."},
		"b.example.test CNAME":        {"c.example.test."},
		"c.example.test A":            {"127.0.0.3"},
		"c.example.test TXT":          {"at c"},
		"loop1.example.test CNAME":    {"loop2.example.test."},
		"loop2.example.test CNAME":    {"loop1.example.test."},
		"dangling.example.test CNAME": {"gone.example.test."},
	}
	// A chain of 12 is more than the client follows.
	for i := 0; i < 12; i++ {
		zone["long"+string(rune('a'+i))+".example.test CNAME"] = []string{"long" + string(rune('a'+i+1)) + ".example.test."}
	}
	zone["longm.example.test A"] = []string{"127.0.0.4"}
	srv := dnstest.Start(t, zone)
	r := srv.Resolver()
	ctx := context.Background()
	if hs, err := r.LookupHost(ctx, "a.example.test"); err != nil || len(hs) != 1 || hs[0] != "127.0.0.3" {
		t.Errorf("A via two CNAMEs: %v %v", hs, err)
	}
	if txt, err := r.LookupTXT(ctx, "a.example.test"); err != nil || len(txt) != 1 || txt[0] != "at c" {
		t.Errorf("TXT via two CNAMEs: %v %v", txt, err)
	}
	if _, err := r.LookupMX(ctx, "a.example.test"); !pdns.IsNotFound(err) {
		t.Errorf("MX via CNAMEs to a name without MX: %v, want not found", err)
	}
	if _, err := r.LookupTXT(ctx, "dangling.example.test"); !pdns.IsNotFound(err) {
		t.Errorf("CNAME to a missing name: %v, want not found", err)
	}
	for _, name := range []string{"loop1.example.test", "longa.example.test"} {
		_, err := r.LookupTXT(ctx, name)
		if pdns.IsNotFound(err) || !pdns.IsTemporary(err) || !strings.Contains(err.Error(), "CNAME") {
			t.Errorf("%s: %v, want a temporary CNAME error", name, err)
		}
	}
}

func TestTXTJoin(t *testing.T) {
	long := strings.Repeat("0123456789", 60) // 600 bytes: three strings on the wire
	srv := dnstest.Start(t, dnstest.Zone{
		"txt.example.test TXT": {long, "short"},
		"bin.example.test TXT": {"caf\xc3\xa9 \"quoted\" \x01\x7f"},
	})
	bin, err := srv.Resolver().LookupTXT(context.Background(), "bin.example.test")
	if err != nil || len(bin) != 1 || bin[0] != "caf\xc3\xa9 \"quoted\" \x01\x7f" {
		t.Errorf("TXT bytes: %q %v", bin, err)
	}
	txt, err := srv.Resolver().LookupTXT(context.Background(), "txt.example.test")
	if err != nil || len(txt) != 2 {
		t.Fatalf("TXT: %v %v", txt, err)
	}
	got := map[string]bool{txt[0]: true, txt[1]: true}
	if !got[long] || !got["short"] {
		t.Errorf("TXT strings not joined per record: %q", txt)
	}
}

func TestMX(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"multi.example.test MX": {"30 c.example.test.", "10 a.example.test.", "20 b.example.test.", "10 a2.example.test."},
		"null.example.test MX":  {"0 ."},
		"bad.example.test MX":   {`10 bad\032name.example.test.`},
	})
	r := srv.Resolver()
	ctx := context.Background()
	mx, err := r.LookupMX(ctx, "multi.example.test")
	if err != nil || len(mx) != 4 {
		t.Fatalf("MX: %v %v", mx, err)
	}
	for i, want := range []uint16{10, 10, 20, 30} {
		if mx[i].Pref != want {
			t.Errorf("MX %d: pref %d, want %d", i, mx[i].Pref, want)
		}
		if !strings.HasSuffix(mx[i].Host, ".example.test.") {
			t.Errorf("MX %d: host %q lacks the final dot", i, mx[i].Host)
		}
	}
	if mx[2].Host != "b.example.test." || mx[3].Host != "c.example.test." {
		t.Errorf("MX order: %v %v", mx[2], mx[3])
	}
	mx, err = r.LookupMX(ctx, "null.example.test")
	if err != nil || len(mx) != 1 || mx[0].Host != "." || mx[0].Pref != 0 {
		t.Errorf("null MX: %v %v, want one record with host \".\"", mx, err)
	}
	if _, err := r.LookupMX(ctx, "bad.example.test"); err == nil || pdns.IsNotFound(err) {
		t.Errorf("MX with an invalid host name: %v, want an error", err)
	}
}

func TestAddr(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"5.0.0.127.in-addr.arpa PTR": {"mx.example.test."},
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa PTR": {"six.example.test."},
	})
	r := srv.Resolver()
	ctx := context.Background()
	if ns, err := r.LookupAddr(ctx, "127.0.0.5"); err != nil || len(ns) != 1 || ns[0] != "mx.example.test." {
		t.Errorf("PTR: %v %v", ns, err)
	}
	if ns, err := r.LookupAddr(ctx, "::1"); err != nil || len(ns) != 1 || ns[0] != "six.example.test." {
		t.Errorf("PTR v6: %v %v", ns, err)
	}
	if _, err := r.LookupAddr(ctx, "not-an-ip"); err == nil {
		t.Error("LookupAddr accepted a non-address")
	}
}

func TestNames(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{"x.example.test TXT": {"x"}})
	r := srv.Resolver()
	ctx := context.Background()
	q0 := srv.Queries()
	for _, name := range []string{
		"", "a..example.test", ".example.test", "-a.example.test", "a-.example.test",
		strings.Repeat("a", 64) + ".example.test", strings.Repeat("abcdefghi.", 26), "sp ace.example.test",
		"bad\x00.example.test", "1.2.3.4.5",
	} {
		for kind, lookup := range lookups {
			if kind == "Addr" {
				continue
			}
			if _, err := lookup(r, ctx, name); !pdns.IsNotFound(err) {
				t.Errorf("%s %q: %v, want not found", kind, name, err)
			}
		}
	}
	if n := srv.Queries() - q0; n != 0 {
		t.Errorf("%d queries sent for invalid names", n)
	}
	// Absolute, relative, upper case and underscores are fine.
	for _, name := range []string{"x.example.test", "x.example.test.", "X.Example.TEST"} {
		if txt, err := r.LookupTXT(ctx, name); err != nil || len(txt) != 1 {
			t.Errorf("%q: %v %v", name, txt, err)
		}
	}
	if _, err := r.LookupTXT(ctx, "_dmarc.example.test"); !pdns.IsNotFound(err) {
		t.Errorf("_dmarc: %v", err)
	}
	// Literals and localhost need no server.
	q0 = srv.Queries()
	for host, want := range map[string]string{"192.0.2.1": "192.0.2.1", "::1": "::1", "localhost": "127.0.0.1", "a.localhost.": "127.0.0.1"} {
		if hs, err := r.LookupHost(ctx, host); err != nil || len(hs) == 0 || hs[0] != want {
			t.Errorf("LookupHost %q: %v %v, want %s first", host, hs, err, want)
		}
	}
	if n := srv.Queries() - q0; n != 0 {
		t.Errorf("%d queries sent for literals", n)
	}
}

func TestTCPFallback(t *testing.T) {
	var many []string
	for i := 0; i < 40; i++ {
		many = append(many, strings.Repeat("x", 60)+string(rune('a'+i%26)))
	}
	srv := dnstest.Start(t, dnstest.Zone{
		"tc.example.test TRUNCATE": nil,
		"tc.example.test TXT":      {"only over TCP"},
		"big.example.test TXT":     many, // about 2.5 KB: more than the 1232-byte EDNS buffer
	})
	r := srv.Resolver()
	ctx := context.Background()
	t0 := srv.TCPQueries()
	if txt, err := r.LookupTXT(ctx, "tc.example.test"); err != nil || len(txt) != 1 || txt[0] != "only over TCP" {
		t.Errorf("truncated: %v %v", txt, err)
	}
	if txt, err := r.LookupTXT(ctx, "big.example.test"); err != nil || len(txt) != len(many) {
		t.Errorf("big answer: %d records, %v; want %d", len(txt), err, len(many))
	}
	if n := srv.TCPQueries() - t0; n != 2 {
		t.Errorf("%d TCP queries, want 2", n)
	}
}

// deadServers returns a loopback address where nothing listens and one
// where a socket is open but never answers.
func deadServers(t *testing.T) (refused, silent string) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused = pc.LocalAddr().String()
	pc.Close()
	pc2, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc2.Close() })
	return refused, pc2.LocalAddr().String()
}

func TestServersDown(t *testing.T) {
	refused, silent := deadServers(t)
	ctx := context.Background()
	for _, servers := range [][]string{{refused}, {silent}, {refused, silent}} {
		r := pdns.New(pdns.Options{Servers: servers, Timeout: 100 * time.Millisecond})
		start := time.Now()
		for kind, lookup := range lookups {
			if _, err := lookup(r, ctx, "ok.example.test"); pdns.IsNotFound(err) || !pdns.IsTemporary(err) {
				t.Errorf("%v %s: %v, want a temporary failure", servers, kind, err)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v: took %v", servers, d)
		}
	}
	// The caller's deadline ends the lookup.
	r := pdns.New(pdns.Options{Servers: []string{silent}, Timeout: 5 * time.Second})
	ctx2, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.LookupTXT(ctx2, "ok.example.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("deadline not kept: %v", d)
	}
}

func TestOneServerDead(t *testing.T) {
	srv := dnstest.Start(t, rcodeZone)
	refused, silent := deadServers(t)
	r := pdns.New(pdns.Options{Servers: []string{refused, silent, srv.Addr}, Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if txt, err := r.LookupTXT(ctx, "ok.example.test"); err != nil || len(txt) != 1 {
			t.Fatalf("try %d: %v %v", i, txt, err)
		}
		if _, err := r.LookupTXT(ctx, "nx.example.test"); !pdns.IsNotFound(err) {
			t.Fatalf("try %d: NXDOMAIN: %v", i, err)
		}
	}
	// A SERVFAIL from one server: another is asked.
	bad := dnstest.Start(t, dnstest.Zone{"ok.example.test SERVFAIL": nil})
	r = pdns.New(pdns.Options{Servers: []string{bad.Addr, srv.Addr}})
	for i := 0; i < 10; i++ {
		if txt, err := r.LookupTXT(ctx, "ok.example.test"); err != nil || len(txt) != 1 {
			t.Fatalf("try %d, one server SERVFAIL: %v %v", i, txt, err)
		}
	}
	// Both SERVFAIL: each asked once.
	bad2 := dnstest.Start(t, dnstest.Zone{"ok.example.test SERVFAIL": nil})
	r = pdns.New(pdns.Options{Servers: []string{bad.Addr, bad2.Addr}})
	q0 := bad.Queries() + bad2.Queries()
	if _, err := r.LookupTXT(ctx, "ok.example.test"); !pdns.IsTemporary(err) {
		t.Fatalf("both SERVFAIL: %v", err)
	}
	if n := bad.Queries() + bad2.Queries() - q0; n != 2 {
		t.Errorf("%d queries to two failing servers, want 2", n)
	}
}

func TestDelay(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"slow.example.test TXT":   {"late"},
		"slow.example.test DELAY": {"300ms"},
	})
	ctx := context.Background()
	r := pdns.New(pdns.Options{Servers: []string{srv.Addr}, Timeout: 2 * time.Second})
	if txt, err := r.LookupTXT(ctx, "slow.example.test"); err != nil || len(txt) != 1 {
		t.Errorf("slow within the timeout: %v %v", txt, err)
	}
	r = pdns.New(pdns.Options{Servers: []string{srv.Addr}, Timeout: 50 * time.Millisecond})
	if _, err := r.LookupTXT(ctx, "slow.example.test"); pdns.IsNotFound(err) || !pdns.IsTemporary(err) {
		t.Errorf("slower than the timeout: %v, want temporary", err)
	}
}

func TestNoUsableServer(t *testing.T) {
	r := pdns.New(pdns.Options{Servers: []string{"ns.example.test:53", "nonsense"}})
	_, err := r.LookupTXT(context.Background(), "example.test")
	if pdns.IsNotFound(err) || !pdns.IsTemporary(err) || !strings.Contains(err.Error(), "no DNS servers") {
		t.Errorf("%v, want a temporary failure naming the cause", err)
	}
}
