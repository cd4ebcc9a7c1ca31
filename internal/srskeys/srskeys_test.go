package srskeys

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
	"postern/internal/srs"
)

func TestKeep(t *testing.T) {
	cfg := &config.Config{SRS: config.SRS{Domain: "mx.example.test", ExcludeDomains: []string{"partner.test", ".lists.test"}}}
	keep := Keep(cfg, func(d string) bool { return d == "example.test" })
	for d, want := range map[string]bool{
		"mx.example.test": true, "example.test": true, "partner.test": true, "a.lists.test": true,
		"lists.test": false, "sub.partner.test": false, "origin.test": false,
	} {
		if keep(d) != want {
			t.Errorf("Keep(%q) = %v", d, !want)
		}
	}
}

func TestExplainSender(t *testing.T) {
	cfg := &config.Config{SRS: config.SRS{Domain: "mx.example.test"}}
	keep := func(d string) bool { return d == "example.test" }
	rw := &srs.Rewriter{Domain: "mx.example.test", Keys: srs.Keys{[]byte("k")}, Now: func() time.Time { return time.Unix(0, 0) }}
	line := ExplainSender(cfg, rw, keep)
	for from, want := range map[string]string{
		"":                  "never rewritten",
		"bob@example.test":  "<bob@example.test> unchanged",
		"alice@origin.test": "=AA=origin.test=alice@mx.example.test> (SRS",
	} {
		if got := line(from); !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", from, got, want)
		}
	}
	if got := ExplainSender(cfg, nil, keep)("a@b.test"); !strings.Contains(got, "[srs] is off") {
		t.Errorf("off: %q", got)
	}
	noKeys := ExplainSender(cfg, &srs.Rewriter{Domain: "mx.example.test"}, keep)("a@b.test")
	if !strings.Contains(noKeys, "no SRS keys") {
		t.Errorf("no keys: %q", noKeys)
	}
}

func TestRunWithoutSRS(t *testing.T) {
	cfg := &config.Config{DataDir: t.TempDir()}
	var out bytes.Buffer
	if err := Run(cfg, "forward", "a@b.test", &out); err == nil || !strings.Contains(err.Error(), "[srs] is off") {
		t.Errorf("forward with SRS off: %v", err)
	}
	if err := Run(cfg, "status", "", &out); err != nil || !strings.Contains(out.String(), "none yet") {
		t.Errorf("status: %v\n%s", err, out.String())
	}
}
