package dmarc

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/testenv"
)

// TestPSLVectors runs the Public Suffix List project's test vectors
// (../shared/testdata/dmarc/psl/tests.txt) against RegistrableDomain,
// which is the Organizational Domain step of RFC 7489 3.2.
func TestPSLVectors(t *testing.T) {
	dir := testenv.SharedTestdata(t, "dmarc", "psl")
	f, err := os.Open(filepath.Join(dir, "tests.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("bad vector line %q", line)
		}
		in, want := fields[0], fields[1]
		if in == "null" {
			in = ""
		}
		if want == "null" {
			want = ""
		}
		got, err := RegistrableDomain(in)
		if err != nil {
			got = ""
		}
		if got != want {
			t.Errorf("RegistrableDomain(%q) = %q (err %v), want %q", in, got, err, want)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 70 {
		t.Fatalf("only %d vectors read", n)
	}
	t.Logf("%d PSL vectors passed", n)
}

func TestOrganizationalDomain(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mail.example.com", "example.com"},
		{"Example.COM.", "example.com"},
		{"a.b.example.co.uk", "example.co.uk"},
		{"co.uk", "co.uk"}, // a public suffix stands for itself
		{"com", "com"},
	} {
		if got := OrganizationalDomain(c.in); got != c.want {
			t.Errorf("OrganizationalDomain(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAligned(t *testing.T) {
	for _, c := range []struct {
		mode Alignment
		a, b string
		want bool
	}{
		{AlignRelaxed, "example.com", "example.com", true},
		{AlignStrict, "example.com", "EXAMPLE.com.", true},
		{AlignRelaxed, "mail.example.com", "example.com", true},
		{AlignStrict, "mail.example.com", "example.com", false},
		{AlignRelaxed, "example.com", "example.net", false},
		{AlignRelaxed, "a.example.co.uk", "b.example.co.uk", true},
		{AlignRelaxed, "example.co.uk", "other.co.uk", false},
		{AlignRelaxed, "", "example.com", false},
		{AlignStrict, "Bücher.example", "xn--bcher-kva.example", true},
		{AlignRelaxed, "mail.xn--85x722f.com.cn", "食狮.com.cn", true},
	} {
		if got := Aligned(c.mode, c.a, c.b); got != c.want {
			t.Errorf("Aligned(%s, %q, %q) = %v, want %v", c.mode, c.a, c.b, got, c.want)
		}
	}
}
