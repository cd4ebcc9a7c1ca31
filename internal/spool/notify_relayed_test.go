package spool

import (
	"context"
	"io"
	"strings"
	"testing"

	"postern/internal/dsn"
	"postern/internal/envelope"
)

// handoffRecorder is a recorder that relays like remote delivery: the
// recipients of remote.test go to a next hop, with DSN when their local
// part starts with "dsn", recorded in the Handoffs of the context.
type handoffRecorder struct{ *recorder }

func (h handoffRecorder) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := h.recorder.Deliver(ctx, env, rcpts, body)
	for i, rc := range rcpts {
		if errs[i] == nil && strings.HasSuffix(rc.Addr, "@remote.test") {
			dsn.RecordHandoff(ctx, rc.Addr, dsn.Handoff{RemoteMTA: "mx.remote.test", Reply: "250 2.0.0 Ok: queued as 4XyZ", DSN: strings.HasPrefix(rc.Addr, "dsn")})
		}
	}
	return errs
}

// RFC 3461 5.2.1/5.2.2: a recipient with NOTIFY=SUCCESS relayed to a
// next hop without DSN gets a "relayed" notice from this host; one
// relayed to a hop with DSN none (the hop reports); a local one the
// usual "delivered"; one without NOTIFY=SUCCESS nothing.
func TestRelayedNotice(t *testing.T) {
	rec := newRecorder(t, func(rcpt string, try int) error { return nil })
	s, _ := New(t.TempDir(), handoffRecorder{rec}, testLog(t), Options{Now: newClock().Now, Hostname: "mx.example.test",
		LocalRecipient: func(addr string) bool { return strings.HasSuffix(addr, "@local.test") }})
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "alice@example.org", EnvID: "E8", DSNRet: "FULL", Rcpts: []envelope.Recipient{
		{Addr: "x@remote.test", Notify: "SUCCESS", ORCPT: "rfc822;X@remote.test"},
		{Addr: "dsn@remote.test", Notify: "SUCCESS"},
		{Addr: "quiet@remote.test", Notify: "FAILURE"},
		{Addr: "plain@remote.test"},
		{Addr: "bob@local.test", Notify: "SUCCESS"},
	}}, "Subject: hi\r\n\r\nbody\r\n")
	waitFor(t, "success notice", func() bool { return len(rec.got()) == 1 && len(s.Items()) == 0 })
	n := rec.got()[0]
	if n.to != "alice@example.org" || !strings.Contains(n.subject, "Successful") || n.perMsg.Get("Original-Envelope-Id") != "E8" {
		t.Errorf("notice to %q, subject %q, per-message %v", n.to, n.subject, n.perMsg)
	}
	if len(n.rcpts) != 2 {
		t.Fatalf("recipient blocks %v, want x@remote.test and bob@local.test", n.rcpts)
	}
	want := map[string]string{
		"Final-Recipient":    "rfc822; x@remote.test",
		"Original-Recipient": "rfc822; X@remote.test",
		"Action":             "relayed",
		"Status":             "2.0.0",
		"Remote-MTA":         "dns; mx.remote.test",
		"Diagnostic-Code":    "smtp; 250 2.0.0 Ok: queued as 4XyZ",
	}
	for k, v := range want {
		if got := n.rcpts[0].Get(k); got != v {
			t.Errorf("relayed %s = %q, want %q", k, got, v)
		}
	}
	if n.rcpts[1].Get("Final-Recipient") != "rfc822; bob@local.test" || n.rcpts[1].Get("Action") != "delivered" {
		t.Errorf("local recipient block %v", n.rcpts[1])
	}
	if n.retType != "text/rfc822-headers" {
		t.Errorf("returned part %q, want the headers only", n.retType)
	}
}

// Nothing goes to the null sender, nor for a hop that took the request.
func TestRelayedNoticeNotToNullSender(t *testing.T) {
	rec := newRecorder(t, func(rcpt string, try int) error { return nil })
	s, _ := New(t.TempDir(), handoffRecorder{rec}, testLog(t), Options{Now: newClock().Now, Hostname: "mx.example.test"})
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "", Rcpts: []envelope.Recipient{{Addr: "x@remote.test", Notify: "SUCCESS"}}}, "Subject: a\r\n\r\nbody\r\n")
	submitEnv(t, s, &envelope.Envelope{From: "alice@example.org", Rcpts: []envelope.Recipient{{Addr: "dsn@remote.test", Notify: "SUCCESS"}}}, "Subject: b\r\n\r\nbody\r\n")
	waitFor(t, "both delivered", func() bool {
		return rec.triesOf("x@remote.test") == 1 && rec.triesOf("dsn@remote.test") == 1 && len(s.Items()) == 0
	})
	if got := rec.got(); len(got) != 0 {
		t.Errorf("notices %v, want none", got)
	}
}

// expansionRecorder is a recorder that expands like the alias courier:
// list@local.test goes to two addresses, one@local.test to one, recorded
// in the Handoffs of the context.
type expansionRecorder struct{ *recorder }

func (h expansionRecorder) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := h.recorder.Deliver(ctx, env, rcpts, body)
	for i, rc := range rcpts {
		switch {
		case errs[i] != nil:
		case rc.Addr == "list@local.test":
			dsn.RecordExpansion(ctx, rc.Addr, 2)
		case rc.Addr == "one@local.test":
			dsn.RecordExpansion(ctx, rc.Addr, 1)
		}
	}
	return errs
}

// RFC 3461 5.2.7.3: an alias expanded into several addresses gets one
// "expanded" line with its ORCPT; an alias to one address is a rewrite
// and gets "delivered" as any local recipient; without NOTIFY=SUCCESS
// nothing.
func TestExpandedNotice(t *testing.T) {
	rec := newRecorder(t, func(rcpt string, try int) error { return nil })
	s, _ := New(t.TempDir(), expansionRecorder{rec}, testLog(t), Options{Now: newClock().Now, Hostname: "mx.example.test",
		LocalRecipient: func(addr string) bool { return strings.HasSuffix(addr, "@local.test") }})
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "alice@example.org", DSNRet: "HDRS", Rcpts: []envelope.Recipient{
		{Addr: "list@local.test", Notify: "SUCCESS", ORCPT: "rfc822;List@local.test"},
		{Addr: "one@local.test", Notify: "SUCCESS,FAILURE"},
	}}, "Subject: hi\r\n\r\nbody\r\n")
	submitEnv(t, s, &envelope.Envelope{From: "carol@example.org", Rcpts: []envelope.Recipient{{Addr: "list@local.test", Notify: "FAILURE"}}}, "Subject: quiet\r\n\r\nbody\r\n")
	waitFor(t, "success notice", func() bool {
		return len(rec.got()) == 1 && rec.triesOf("list@local.test") == 2 && len(s.Items()) == 0
	})
	n := rec.got()[0]
	if n.to != "alice@example.org" || len(n.rcpts) != 2 {
		t.Fatalf("notice to %q with blocks %v, want alice@example.org with two", n.to, n.rcpts)
	}
	want := map[string]string{
		"Final-Recipient":    "rfc822; list@local.test",
		"Original-Recipient": "rfc822; List@local.test",
		"Action":             "expanded",
		"Status":             "2.0.0",
		"Remote-MTA":         "",
	}
	for k, v := range want {
		if got := n.rcpts[0].Get(k); got != v {
			t.Errorf("expanded %s = %q, want %q", k, got, v)
		}
	}
	if n.rcpts[1].Get("Final-Recipient") != "rfc822; one@local.test" || n.rcpts[1].Get("Action") != "delivered" {
		t.Errorf("one-to-one alias block %v", n.rcpts[1])
	}
}
