package ldapmaps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/testpeer"
)

func startDirectory(t *testing.T) *testpeer.Slapd {
	t.Helper()
	ldif, err := os.ReadFile(filepath.Join("testdata", "directory.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	return testpeer.StartSlapd(t, string(ldif))
}

// TestFetch reads a sendmail site's maps from a real slapd with
// sendmail's schema: the cluster's entries only, in each map file's text.
func TestFetch(t *testing.T) {
	d := startDirectory(t)
	src, err := New(Options{URL: d.URL, Base: "ou=mail," + d.Suffix, BindDN: d.BindDN, Password: d.Password,
		Cluster: "gateways", Host: "mx1.example.org", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"access":           "From:spammer@bad.example\tREJECT\n",
		"virtusertable":    "@virtual.example\terror:nouser No such user here\ninfo@virtual.example\tstaff@example.test\n",
		"aliases":          "staff: alice, bob\n",
		"local-host-names": "virtual.example\n",
		"relay-domains":    "",
	}
	for file, w := range want {
		got, err := src.Fetch(context.Background(), file)
		if err != nil || string(got) != w {
			t.Errorf("Fetch(%s) = %q, %v; want %q", file, got, err, w)
		}
	}

	bad, _ := New(Options{URL: d.URL, Base: d.Suffix, BindDN: d.BindDN, Password: "wrong", Cluster: "gateways", Timeout: 5 * time.Second})
	if _, err := bad.Fetch(context.Background(), "access"); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong password: err = %v", err)
	}
	d.Stop()
	if _, err := src.Fetch(context.Background(), "access"); err == nil {
		t.Error("Fetch from a stopped directory succeeded")
	}
}
