package dkim

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
)

// TestDecide is a table of the gates a selector passes: its time, then,
// when an older selector of its algorithm signs, its DNS record (or
// force).
func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(100 * 24 * time.Hour)
	day := 24 * time.Hour
	sel := func(name, algo string, created time.Duration) Selector {
		return Selector{Name: name, Algo: algo, Created: t0.Add(created)}
	}
	old := sel("old", AlgoRSA, 0)
	fresh := sel("fresh", AlgoRSA, 99*day) // within activate_after
	ready := sel("ready", AlgoRSA, 90*day) // past activate_after
	published, forced, retired, early := ready, ready, old, fresh
	published.Published = now.Add(-time.Hour)
	forced.Force = true
	retired.Retired = true
	early.Activate = now.Add(-time.Minute)
	newer := sel("newer", AlgoRSA, 95*day)
	newer.Published = now
	ed := sel("ed", AlgoEd25519, 90*day)

	type want map[string]string // selector: state/why
	for _, c := range []struct {
		name string
		sels []Selector
		want want
	}{
		{"first selector waits for its time", []Selector{fresh}, want{"fresh": "pending/time"}},
		{"first selector signs on its time alone", []Selector{ready}, want{"ready": "active/first"}},
		{"new selector waits for its record", []Selector{old, ready}, want{"old": "active/first", "ready": "pending/dns"}},
		{"new selector within its time", []Selector{old, fresh}, want{"old": "active/first", "fresh": "pending/time"}},
		{"record matched", []Selector{old, published}, want{"old": "retired/superseded", "ready": "active/published"}},
		{"forced", []Selector{old, forced}, want{"old": "retired/superseded", "ready": "active/forced"}},
		{"forced still waits for its time", []Selector{old, func() Selector { s := fresh; s.Force = true; return s }()},
			want{"old": "active/first", "fresh": "pending/time"}},
		{"activate overrides activate_after", []Selector{old, early}, want{"old": "active/first", "fresh": "pending/dns"}},
		{"the old one retired by hand", []Selector{retired, ready}, want{"old": "retired/retired", "ready": "active/first"}},
		{"the newest matching one signs", []Selector{old, ready, newer}, want{"old": "retired/superseded", "ready": "retired/superseded", "newer": "active/published"}},
		{"a newer one still waits", []Selector{old, published, func() Selector { s := newer; s.Published = time.Time{}; return s }()},
			want{"old": "retired/superseded", "ready": "active/published", "newer": "pending/dns"}},
		{"algorithms apart", []Selector{old, ready, ed}, want{"old": "active/first", "ready": "pending/dns", "ed": "active/first"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.sels, now, DefaultActivateAfter)
			if len(got) != len(c.want) {
				t.Errorf("got %v", got)
			}
			for name, w := range c.want {
				if g := got[name].State + "/" + got[name].Why; g != w {
					t.Errorf("%s: %s, want %s", name, g, w)
				}
			}
		})
	}
}

// The server's signer keeps signing with the old selector until the new
// one's record is published with its key; a failed lookup, a missing or
// a different record keep the old one. The note it writes then makes
// every signer take the new one.
func TestSignerDNSGate(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newKey(t, dir, "example.org", "old", AlgoEd25519, t0)
	newRec := newKey(t, dir, "example.org", "new", AlgoEd25519, t0.Add(30*24*time.Hour))
	otherRec := newKey(t, t.TempDir(), "example.org", "x", AlgoEd25519, t0)
	now := t0.Add(34 * 24 * time.Hour)
	srv := dnstest.Start(t, dnstest.Zone{})
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := NewSigner(log, SignOptions{Dir: dir, Now: func() time.Time { return now }, Resolver: srv.Resolver()})
	signsWith := func(want string) {
		t.Helper()
		hdr, err := s.Sign(context.Background(), "example.org", strings.NewReader(testMessage))
		if err != nil || strings.Count(hdr, "DKIM-Signature") != 1 || !strings.Contains(hdr, "s="+want+";") {
			t.Fatalf("want s=%s: %v\n%s", want, err, hdr)
		}
	}
	// Until its first round of checks, the server's signer does not know
	// which selector took over before it started: it signs nothing.
	if _, err := s.Sign(context.Background(), "example.org", strings.NewReader(testMessage)); !errors.Is(err, errFirstCheck) {
		t.Fatalf("before the first check: %v", err)
	}
	name := "new._domainkey.example.org"
	for _, c := range []struct {
		zone dnstest.Zone
		log  string
	}{
		{dnstest.Zone{}, "not published: " + name},
		{dnstest.Zone{name + " TXT": {otherRec}}, "different key: p= is a different key"},
		{dnstest.Zone{name + " TXT": {"v=DKIM1; k=ed25519; p="}}, "different key: key revoked"},
		{dnstest.Zone{name + " SERVFAIL": {"TXT"}}, "lookup failed"},
	} {
		if err := srv.Set(c.zone); err != nil {
			t.Fatal(err)
		}
		s.checkDNS(context.Background())
		signsWith("old")
		if !strings.Contains(logs.String(), c.log) {
			t.Errorf("log lacks %q:\n%s", c.log, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "dkim selector signs") || !strings.Contains(logs.String(), "selector=old algo=ed25519 why=first") {
		t.Errorf("takeover of old not logged:\n%s", logs.String())
	}
	if err := srv.Set(dnstest.Zone{name + " TXT": {newRec}}); err != nil {
		t.Fatal(err)
	}
	s.checkDNS(context.Background())
	signsWith("new")
	if !strings.Contains(logs.String(), "selector=new algo=ed25519 why=published replaces=old") {
		t.Errorf("takeover not logged:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "dkim selector signs"); n != 2 {
		t.Errorf("%d takeovers logged:\n%s", n, logs.String())
	}
	// A signer without a resolver (the reports' one) follows the note.
	other := NewSigner(discard(), SignOptions{Dir: dir, Now: func() time.Time { return now }})
	if hdr, err := other.Sign(context.Background(), "example.org", strings.NewReader(testMessage)); err != nil || !strings.Contains(hdr, "s=new;") {
		t.Fatalf("second signer: %v\n%s", err, hdr)
	}
	// A note for another key than the one on disk counts for nothing.
	note := filepath.Join(dir, "example.org", "new.published")
	if err := os.WriteFile(note, []byte(now.Format(time.RFC3339)+"\n"+otherRec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sels, err := ReadSchedule(dir, "example.org"); err != nil || !sels[1].Published.IsZero() {
		t.Errorf("note for another key: %+v %v", sels, err)
	}
}

// postern dkim activate -force: the selector takes over without its
// record, from the next reload.
func TestChangeSelectorForce(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now().Add(-30 * 24 * time.Hour)
	newKey(t, dir, "example.org", "old", AlgoEd25519, t0)
	_, pemBytes, _ := GenerateKey(AlgoEd25519)
	if _, err := WriteKey(dir, "example.org", "new", pemBytes); err != nil { // not in rotation.toml
		t.Fatal(err)
	}
	now := time.Now()
	if err := ChangeSelector(dir, "example.org", "new", func(s *Selector) { s.Activate, s.Force = now, true }); err != nil {
		t.Fatal(err)
	}
	if err := ChangeSelector(dir, "example.org", "nope", func(*Selector) {}); err == nil {
		t.Error("changed a selector without a key")
	}
	sels, err := ReadSchedule(dir, "example.org")
	if err != nil || len(sels) != 2 {
		t.Fatalf("%+v %v", sels, err)
	}
	d := Decide(sels, now, DefaultActivateAfter)
	if d["new"].State != StateActive || d["new"].Why != WhyForced || d["old"].State != StateRetired {
		t.Errorf("%+v", d)
	}
	s := NewSigner(discard(), SignOptions{Dir: dir})
	if hdr, err := s.Sign(context.Background(), "example.org", strings.NewReader(testMessage)); err != nil || !strings.Contains(hdr, "s=new;") {
		t.Errorf("forced: %v\n%s", err, hdr)
	}
}

func TestCheckPublishedErrors(t *testing.T) {
	dir := t.TempDir()
	newKey(t, dir, "example.org", "s", AlgoEd25519, time.Now())
	key, err := LoadKey(KeyPath(dir, "example.org", "s"))
	if err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, dnstest.Zone{"s._domainkey.example.org TXT": {"v=DKIM1; k=rsa; p=MIIB"}})
	err = CheckPublished(context.Background(), srv.Resolver(), "example.org", "s", key)
	if !errors.Is(err, ErrRecordDiffers) {
		t.Errorf("%v", err)
	}
}
