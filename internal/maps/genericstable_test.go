package maps

import (
	"strings"
	"testing"
)

func TestGenericstable(t *testing.T) {
	g, err := ParseGenericstable("genericstable", strings.NewReader(`# outbound senders
alice           Alice.Smith@Example.COM
bob@host.example.com   robert@example.com
root            admin
`))
	if err != nil {
		t.Fatal(err)
	}
	opt := GenericsOptions{Domains: []string{"example.com", "host.example.com"}}
	tests := []struct {
		addr      string
		opt       GenericsOptions
		want      string
		qualified bool
		found     bool
	}{
		{"alice@example.com", opt, "Alice.Smith@example.com", true, true},
		{"ALICE@Example.com.", opt, "Alice.Smith@example.com", true, true},
		{"alice", opt, "Alice.Smith@example.com", true, true}, // unqualified always looked up
		{"bob@host.example.com", opt, "robert@example.com", true, true},
		{"bob@example.com", opt, "", false, false},     // the full key is for host.example.com only
		{"alice@other.example", opt, "", false, false}, // not in class G
		{"alice@sub.example.com", opt, "", false, false},
		{"alice@sub.example.com", GenericsOptions{Domains: []string{"example.com"}, EntireDomain: true}, "Alice.Smith@example.com", true, true},
		{"root@example.com", opt, "admin", false, true},
		{"", opt, "", false, false},
	}
	for _, tt := range tests {
		r, ok := g.Lookup(tt.addr, tt.opt)
		if ok != tt.found || r.Address != tt.want || r.Qualified != tt.qualified {
			t.Errorf("Lookup(%q) = %v %+v, want %v %q %v", tt.addr, ok, r, tt.found, tt.want, tt.qualified)
		}
	}
	_, err = ParseGenericstable("gt", strings.NewReader("a\nb@bad..x y\nc x y\nd @x\nb@bad..x z\ne e@x.example\ne f\n"))
	if err == nil || strings.Count(err.Error(), "\n") != 5 {
		t.Errorf("errors: %v", err)
	}
}

func TestMasquerade(t *testing.T) {
	m := Masquerade{
		As:      "Example.COM",
		Domains: []string{"mx.example.com", "example.net"},
		Exposed: []string{"root"},
	}
	tests := map[string]string{
		"alice@mx.example.com":  "alice@example.com",
		"alice@MX.example.com.": "alice@example.com",
		"alice@example.net":     "alice@example.com",
		"alice@web.example.net": "alice@web.example.net", // no entire-domain
		"alice@example.com":     "alice@example.com",
		"alice@other.example":   "alice@other.example",
		"root@mx.example.com":   "root@mx.example.com", // exposed
		"alice":                 "alice@example.com",
		"":                      "",
		"<>":                    "<>",
	}
	for in, want := range tests {
		if got, _ := m.Rewrite(in); got != want {
			t.Errorf("Rewrite(%q) = %q, want %q", in, got, want)
		}
	}
	m.EntireDomain = true
	if got, _ := m.Rewrite("alice@web.example.net"); got != "alice@example.com" {
		t.Errorf("entire domain: %q", got)
	}
	if got, ch := (Masquerade{}).Rewrite("a@b.example"); got != "a@b.example" || ch {
		t.Errorf("zero Masquerade changed %q", got)
	}
}
