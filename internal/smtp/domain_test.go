package smtp

import (
	"strings"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	l63 := strings.Repeat("a", 63)
	cases := []struct {
		in, out string
		ok      bool
	}{
		{"example.com", "example.com", true},
		{"EXAMPLE.Com", "example.com", true},
		{"example.com.", "example.com", true},
		{"localhost", "localhost", true},
		{"a-b.example", "a-b.example", true},
		{"r3--sn-abc.example", "r3--sn-abc.example", true},
		{"Bücher.example", "xn--bcher-kva.example", true},
		{"bücher.example.", "xn--bcher-kva.example", true},
		{"XN--BCHER-KVA.example", "xn--bcher-kva.example", true},
		{"ＥＸＡＭＰＬＥ.com", "example.com", true},
		{l63 + ".example", l63 + ".example", true},
		{l63 + "a.example", "", false},
		{strings.Repeat("a.", 126) + "b", strings.Repeat("a.", 126) + "b", true},
		{strings.Repeat("a.", 126) + "bc", "", false},
		{"example.com..", "", false},
		{".example.com", "", false},
		{"a..example", "", false},
		{"", "", false},
		{".", "", false},
		{"-a.example", "", false},
		{"a-.example", "", false},
		{"a_b.example", "", false},
		{"a b.example", "", false},
		{"a@b.example", "", false},
		{"[127.0.0.1]", "", false},
		{"127.0.0.1", "", false},
		{"example.123", "", false},
		{"123.example", "123.example", true},
		{"1", "", false},
		{"a.b.c.9", "", false},
		{"a.b.9c", "a.b.9c", true},
		{"xn--zz.example", "", false},
		{"xn--a.example", "", false},
		{"\u200d.example", "", false},
		{"a\x00b.example", "", false},
		{"\xff.example", "", false},
	}
	for _, c := range cases {
		got, err := NormalizeDomain(c.in)
		if c.ok != (err == nil) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want ok=%v", c.in, got, err, c.ok)
			continue
		}
		if err == nil && got != c.out {
			t.Errorf("NormalizeDomain(%q) = %q, want %q", c.in, got, c.out)
		}
	}
}

func TestInDomain(t *testing.T) {
	cases := []struct {
		domain, parent string
		want           bool
	}{
		{"example.com", "example.com", true},
		{"mail.example.com", "example.com", true},
		{"a.b.example.com", "example.com", true},
		{"evil-example.com", "example.com", false},
		{"evilexample.com", "example.com", false},
		{"example.com.evil.net", "example.com", false},
		{"example.com", "mail.example.com", false},
		{"com", "example.com", false},
		{".example.com", "example.com", false},
		{"MAIL.Example.COM", "example.com", true},
		{"example.com.", "example.com", true},
		{"example.com", "", false},
		{"", "example.com", false},
		{"[127.0.0.1]", "[127.0.0.1]", true},
		{"x[127.0.0.1]", "[127.0.0.1]", false},
	}
	for _, c := range cases {
		if got := InDomain(c.domain, c.parent); got != c.want {
			t.Errorf("InDomain(%q, %q) = %v, want %v", c.domain, c.parent, got, c.want)
		}
	}
}
