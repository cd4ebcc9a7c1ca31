package console

import (
	"crypto/x509"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/dkimkeys"
	"postern/internal/dnstest"
	"postern/internal/tlsutil"
)

// The keys page: a selector whose record DNS does not hold is shown as a
// problem, and the server's certificate with its days left.
func TestKeysPage(t *testing.T) {
	dir := t.TempDir()
	k := &dkimkeys.Keys{Dir: filepath.Join(dir, "dkim")}
	if err := k.Keygen("example.org", "s1", dkim.AlgoEd25519, io.Discard); err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, dnstest.Zone{})
	conf, err := tlsutil.Load("", "", dir, "mx.example.org")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) {
		o.DKIMDir, o.Resolver, o.TLS = filepath.Join(dir, "dkim"), srv.Resolver(), conf
	})
	ck, _ := f.login(t, "admin@example.test", "right")
	w := f.do("GET", "/console/keys", nil, ck, "")
	body := w.Body.String()
	for _, want := range []string{"s1", "DNS missing: publish s1._domainkey.example.org", `class="bad"`, "mx.example.org"} {
		if w.Code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("want %q: %d %s", want, w.Code, body)
		}
	}
	checkHostile(t, "/console/keys", body)
}

func TestDescribeCert(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		left          time.Duration
		days          int
		warn, expired bool
	}{
		{90 * 24 * time.Hour, 90, false, false},
		{14 * 24 * time.Hour, 14, false, false},
		{13*24*time.Hour + time.Hour, 13, true, false},
		{-time.Hour, 0, true, true},
	} {
		row, ok := describeCert(&x509.Certificate{NotAfter: now.Add(tt.left)}, nil, now)
		if !ok || row.DaysLeft != tt.days || row.Warn != tt.warn || row.Expired != tt.expired {
			t.Errorf("%v left: %+v", tt.left, row)
		}
	}
	if _, ok := describeCert(nil, [][]byte{[]byte("junk")}, now); ok {
		t.Error("junk parsed as a certificate")
	}
}
