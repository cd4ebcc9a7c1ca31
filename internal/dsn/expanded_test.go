package dsn

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestHandoffExpanded(t *testing.T) {
	for _, tt := range []struct {
		targets int
		want    bool
	}{{0, false}, {1, false}, {2, true}, {7, true}} {
		if got := (Handoff{Targets: tt.targets}).Expanded(); got != tt.want {
			t.Errorf("Targets %d: Expanded() = %v, want %v", tt.targets, got, tt.want)
		}
	}
}

// An expansion and a handoff recorded for the same address are both kept,
// whichever comes first; without Handoffs in the context nothing happens.
func TestRecordExpansion(t *testing.T) {
	RecordExpansion(context.Background(), "team@example.org", 3)
	hs := &Handoffs{}
	ctx := WithHandoffs(context.Background(), hs)
	RecordExpansion(ctx, "Team@Example.ORG", 3)
	if h := hs.Lookup("team@example.org"); !h.Expanded() || h.Targets != 3 || h.Relayed() {
		t.Errorf("expansion: %+v", h)
	}
	RecordHandoff(ctx, "team@example.org", Handoff{RemoteMTA: "mx", Reply: "250 ok"})
	if h := hs.Lookup("team@example.org"); h.Targets != 3 || h.RemoteMTA != "mx" {
		t.Errorf("handoff after expansion: %+v", h)
	}
	RecordHandoff(ctx, "x@example.org", Handoff{RemoteMTA: "mx"})
	RecordExpansion(ctx, "x@example.org", 2)
	if h := hs.Lookup("x@example.org"); h.Targets != 2 || h.RemoteMTA != "mx" {
		t.Errorf("expansion after handoff: %+v", h)
	}
	if h := hs.Lookup("other@example.org"); h.Expanded() {
		t.Errorf("unrecorded address: %+v", h)
	}
}

func TestWithoutSuccess(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"SUCCESS":                "NEVER",
		"success":                "NEVER",
		"SUCCESS,FAILURE":        "FAILURE",
		"FAILURE, SUCCESS,DELAY": "FAILURE,DELAY",
		"NEVER":                  "NEVER",
		"FAILURE":                "FAILURE",
	} {
		if got := WithoutSuccess(in); got != want {
			t.Errorf("WithoutSuccess(%q) = %q, want %q", in, got, want)
		}
		if Wants(WithoutSuccess(in), Success) && in != "" {
			t.Errorf("WithoutSuccess(%q) still asks for success", in)
		}
	}
}

// RFC 3464 2.3.3: an "expanded" line names the alias as Final-Recipient,
// carries its ORCPT, a 2.X.X status and no Remote-MTA.
func TestBuildExpanded(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	f := newFixture("HDRS", "E2")
	rc := ExpandedRecipient(Recipient{Recipient: f.env.Rcpts[0], Status: "5.1.1", RemoteMTA: "mx", LastAttempt: now}, 2)
	r := Report{Kind: Success, Env: f.env, To: f.env.From, Content: strings.NewReader(f.content), Rcpts: []Recipient{rc}}
	b, err := Build(r, Options{Hostname: "mx.example.test", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	p := parseDSN(t, b.Content)
	checkRequired(t, p)
	if len(p.perRcpt) != 1 {
		t.Fatalf("%d recipient blocks", len(p.perRcpt))
	}
	want := map[string]string{
		"Final-Recipient":    "rfc822; bob@example.net",
		"Original-Recipient": "rfc822; Bob@Example.NET",
		"Action":             "expanded",
		"Status":             "2.0.0",
		"Remote-MTA":         "",
		"Diagnostic-Code":    "smtp; 250 2.0.0 alias expanded to 2 addresses",
	}
	for k, v := range want {
		if got := p.perRcpt[0].Get(k); got != v {
			t.Errorf("expanded %s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(p.human, "sent it on to several addresses") {
		t.Errorf("human part does not say the alias was expanded:\n%s", p.human)
	}
}

// A one-to-one alias that forwarded its copy with the DSN request leaves
// the reporting to that copy.
func TestHandoffForwarded(t *testing.T) {
	hs := &Handoffs{}
	ctx := WithHandoffs(context.Background(), hs)
	RecordHandoff(ctx, "info@example.org", Handoff{Forwarded: true})
	if h := hs.Lookup("info@example.org"); !h.Passed() || h.Relayed() || h.Expanded() {
		t.Errorf("forwarded one-to-one: %+v passed %v", h, h.Passed())
	}
	RecordExpansion(ctx, "info@example.org", 2)
	if h := hs.Lookup("info@example.org"); h.Passed() || !h.Expanded() {
		t.Errorf("forwarded and expanded: %+v", h)
	}
}
