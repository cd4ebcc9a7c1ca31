package dsn

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestHandoff(t *testing.T) {
	tests := []struct {
		name            string
		h               Handoff
		relayed, passed bool
	}{
		{name: "delivered here", h: Handoff{}},
		{name: "next hop without DSN", h: Handoff{RemoteMTA: "mx.example.net", Reply: "250 ok"}, relayed: true},
		{name: "next hop with DSN", h: Handoff{RemoteMTA: "mx.example.net", Reply: "250 ok", DSN: true}, passed: true},
		{name: "DSN flag without a hop", h: Handoff{DSN: true}},
	}
	for _, tt := range tests {
		if got := tt.h.Relayed(); got != tt.relayed {
			t.Errorf("%s: Relayed() = %v, want %v", tt.name, got, tt.relayed)
		}
		if got := tt.h.Passed(); got != tt.passed {
			t.Errorf("%s: Passed() = %v, want %v", tt.name, got, tt.passed)
		}
	}
}

func TestBuildRelayed(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	f := newFixture("FULL", "E1")
	h := Handoff{RemoteMTA: "mx.example.net", Reply: "250 2.0.0 Ok: queued as 4XyZ"}
	relayed := RelayedRecipient(Recipient{Recipient: f.env.Rcpts[0], LastAttempt: now}, h)
	delivered := Recipient{Recipient: f.env.Rcpts[1], Status: "2.0.0", Diagnostic: "smtp; 250 2.0.0 delivered to the mailbox", LastAttempt: now}
	r := Report{Kind: Success, Env: f.env, To: f.env.From, Content: strings.NewReader(f.content), Rcpts: []Recipient{relayed, delivered}}
	b, err := Build(r, Options{Hostname: "mx.example.test", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	p := parseDSN(t, b.Content)
	checkRequired(t, p)
	if got := p.perMsg.Get("Original-Envelope-Id"); got != "E1" {
		t.Errorf("Original-Envelope-Id %q", got)
	}
	if len(p.perRcpt) != 2 {
		t.Fatalf("%d recipient blocks", len(p.perRcpt))
	}
	want := map[string]string{
		"Final-Recipient":    "rfc822; bob@example.net",
		"Original-Recipient": "rfc822; Bob@Example.NET",
		"Action":             "relayed",
		"Status":             "2.0.0",
		"Remote-MTA":         "dns; mx.example.net",
		"Diagnostic-Code":    "smtp; 250 2.0.0 Ok: queued as 4XyZ",
	}
	for k, v := range want {
		if got := p.perRcpt[0].Get(k); got != v {
			t.Errorf("relayed %s = %q, want %q", k, got, v)
		}
	}
	if got := p.perRcpt[1].Get("Action"); got != "delivered" {
		t.Errorf("delivered recipient's Action %q", got)
	}
	if p.perRcpt[1].Get("Remote-MTA") != "" {
		t.Errorf("Remote-MTA for a local delivery: %q", p.perRcpt[1].Get("Remote-MTA"))
	}
	// RFC 3461 4.3: success-class notices return the headers only,
	// even with RET=FULL.
	if p.retType != "text/rfc822-headers" || strings.Contains(p.returned, "body line") {
		t.Errorf("returned part %q: %q", p.retType, p.returned)
	}
	if !strings.Contains(p.human, "relayed to a server that does not report delivery") {
		t.Errorf("human part does not say the message was relayed:\n%s", p.human)
	}
}

// An action override only applies to success reports, and only with a
// known value: a failure stays "failed".
func TestActionOverrideLimited(t *testing.T) {
	f := newFixture("", "")
	rc := Recipient{Recipient: f.env.Rcpts[0], Action: ActionRelayed}
	if got := rc.action(Failure); got != "failed" {
		t.Errorf("failure report: Action %q", got)
	}
	if got := rc.action(Delay); got != "delayed" {
		t.Errorf("delay report: Action %q", got)
	}
	rc.Action = "bogus\r\nX-Injected: 1"
	if got := rc.action(Success); got != "delivered" {
		t.Errorf("unknown action: %q", got)
	}
	rc.Action = ActionExpanded
	if got := rc.action(Success); got != "expanded" {
		t.Errorf("expanded: %q", got)
	}
	// A non-success status never goes into a relayed line.
	rel := RelayedRecipient(Recipient{Recipient: f.env.Rcpts[0], Status: "5.1.1"}, Handoff{RemoteMTA: "mx"})
	if rel.Status != "2.0.0" || rel.Diagnostic != "" {
		t.Errorf("relayed line %+v", rel)
	}
}

func TestHandoffsInContext(t *testing.T) {
	// Without Handoffs in the context, recording does nothing.
	RecordHandoff(context.Background(), "a@example.net", Handoff{RemoteMTA: "mx"})
	hs := &Handoffs{}
	if h := hs.Lookup("a@example.net"); h != (Handoff{}) {
		t.Errorf("empty Handoffs: %+v", h)
	}
	ctx := WithHandoffs(context.Background(), hs)
	RecordHandoff(ctx, "A@Example.NET", Handoff{RemoteMTA: "mx.example.net", Reply: "250 ok"})
	if h := hs.Lookup("a@example.net"); !h.Relayed() || h.RemoteMTA != "mx.example.net" {
		t.Errorf("recorded handoff: %+v", h)
	}
	if h := hs.Lookup("b@example.net"); h != (Handoff{}) {
		t.Errorf("unrecorded address: %+v", h)
	}
}
