package ldapmaps

import (
	"strings"
	"testing"
)

func entry(dn string, kv ...string) Entry {
	e := Entry{DN: dn, Attrs: map[string][]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs[kv[i]] = append(e.Attrs[kv[i]], kv[i+1])
	}
	return e
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, file string
		entries    []Entry
		want, err  string
	}{
		{"access", "access", []Entry{
			entry("k=2", "sendmailMTAKey", "Connect:192.0.2.1", "sendmailMTAMapValue", "REJECT"),
			entry("k=1", "sendmailmtakey", "From:spam@example.com", "SENDMAILMTAMAPVALUE", `ERROR:"550 go away"`),
		}, "Connect:192.0.2.1\tREJECT\nFrom:spam@example.com\tERROR:\"550 go away\"\n", ""},
		{"empty", "virtusertable", nil, "", ""},
		{"two entries one key", "access", []Entry{
			entry("a", "sendmailMTAKey", "Connect:192.0.2.1", "sendmailMTAMapValue", "OK"),
			entry("b", "sendmailMTAKey", "connect:192.0.2.1", "sendmailMTAMapValue", "REJECT"),
		}, "", "is in two entries"},
		{"two values", "access", []Entry{
			entry("a", "sendmailMTAKey", "Connect:192.0.2.1", "sendmailMTAMapValue", "OK", "sendmailMTAMapValue", "REJECT"),
		}, "", "2 values for key"},
		{"recursive", "virtusertable", []Entry{
			entry("a", "sendmailMTAKey", "x@example.org", "sendmailMTAMapSearch", "(uid=x)"),
		}, "", "recursive search"},
		{"newline in value", "access", []Entry{
			entry("a", "sendmailMTAKey", "Connect:192.0.2.1", "sendmailMTAMapValue", "OK\nConnect:0.0.0.0/0 RELAY"),
		}, "", "line break"},
		{"space in key", "access", []Entry{
			entry("a", "sendmailMTAKey", "Connect:192.0.2.1 x", "sendmailMTAMapValue", "OK"),
		}, "", "one with spaces"},
		{"alias list", "aliases", []Entry{
			entry("a", "sendmailMTAKey", "staff", "sendmailMTAAliasValue", "alice", "sendmailMTAAliasValue", "bob@example.net, carol"),
		}, "staff: alice, bob@example.net, carol\n", ""},
		{"alias program", "aliases", []Entry{
			entry("a", "sendmailMTAKey", "x", "sendmailMTAAliasValue", `"|/bin/sh -c id"`),
		}, "", "programs, files and :include:"},
		{"alias include", "aliases", []Entry{
			entry("a", "sendmailMTAKey", "x", "sendmailMTAAliasValue", ":INCLUDE:/etc/list"),
		}, "", "programs, files and :include:"},
		{"class", "local-host-names", []Entry{
			entry("w", "sendmailMTAClassValue", "example.org", "sendmailMTAClassValue", "mail.example.org  [192.0.2.1]"),
		}, "[192.0.2.1]\nexample.org\nmail.example.org\n", ""},
		{"unknown map", "sender-login", nil, "", "cannot come from LDAP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.file, tt.entries)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestQueryFor(t *testing.T) {
	q, err := QueryFor("virtusertable", "gw*", "mx1.example.org")
	if err != nil {
		t.Fatal(err)
	}
	want := `(&(objectClass=sendmailMTAMapObject)(|(sendmailMTACluster=gw\2a)(sendmailMTAHost=mx1.example.org))(sendmailMTAMapName=virtuser))`
	if q.Filter != want {
		t.Errorf("filter %s, want %s", q.Filter, want)
	}
	q, _ = QueryFor("relay-domains", "", "mx1")
	if want := `(&(objectClass=sendmailMTAClass)(sendmailMTAClassName=R)(sendmailMTAHost=mx1))`; q.Filter != want {
		t.Errorf("filter %s, want %s", q.Filter, want)
	}
	q, _ = QueryFor("aliases", "c", "h")
	if want := `(&(objectClass=sendmailMTAAliasObject)(sendmailMTAAliasGrouping=aliases)(|(sendmailMTACluster=c)(sendmailMTAHost=h)))`; q.Filter != want {
		t.Errorf("filter %s, want %s", q.Filter, want)
	}
}

// FuzzRender feeds entries made of arbitrary text: whatever they hold,
// the text given to the map parser has one line per map entry, so that
// no value can add an entry of its own.
func FuzzRender(f *testing.F) {
	f.Add("access", "Connect:192.0.2.1", "REJECT")
	f.Add("aliases", "staff", "alice, bob")
	f.Add("local-host-names", "", "example.org [192.0.2.1]")
	f.Add("access", "k", "OK\nConnect:0/0\tRELAY")
	f.Fuzz(func(t *testing.T, file, k, v string) {
		e := entry("dn", "sendmailMTAKey", k, "sendmailMTAMapValue", v, "sendmailMTAAliasValue", v, "sendmailMTAClassValue", v)
		out, err := Render(file, []Entry{e})
		if err != nil || len(out) == 0 {
			return
		}
		lines := strings.Count(string(out), "\n")
		if layouts[file].kind != kindClass && lines != 1 {
			t.Fatalf("one entry gave %d lines: %q", lines, out)
		}
		if strings.ContainsAny(strings.TrimSuffix(string(out), "\n"), "\r\n\x00") && layouts[file].kind != kindClass {
			t.Fatalf("line break inside an entry: %q", out)
		}
	})
}
