package route

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dsn"
	"postern/internal/envelope"
)

// innerRecorder notes the recipients handed to the inner courier.
type innerRecorder struct {
	inner Inner
	mu    sync.Mutex
	got   []envelope.Recipient
}

func (r *innerRecorder) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	r.mu.Lock()
	r.got = append(r.got, rcpts...)
	r.mu.Unlock()
	return r.inner.Deliver(ctx, env, rcpts, body)
}

// RFC 3461 5.2.7: what each kind of alias does with the DSN request and
// what it records for the queue's success notices.
func TestAliasDSN(t *testing.T) {
	f := newFixture(t, strings.Join([]string{
		"team: alice, bob",
		"info: alice",
		"ext: dave@elsewhere.test",
		"mix: alice, dave@elsewhere.test, erin@elsewhere.test",
		"half: alice, /var/tmp/not-allowed",
		"list: alice, frank@elsewhere.test",
		"owner-list: carol",
	}, "\n")+"\n", nil)
	inner := &innerRecorder{inner: f.c.Inner}
	f.c.Inner = inner
	var forwards []*envelope.Envelope
	f.c.Forwarder.Inject = func(ctx context.Context, env *envelope.Envelope, content io.Reader) error {
		forwards = append(forwards, env)
		return nil
	}
	tests := []struct {
		rcpt         envelope.Recipient
		expanded     int  // recorded Targets
		passed       bool // a forwarded copy reports
		innerNotify  string
		fwdNotify    string
		fwdORCPT     string
		fwdEnvID     string
		fwdFrom      string
		wantInner    int
		wantForwards int
	}{
		// 5.2.7.3: several targets, SUCCESS answered by "expanded".
		{rcpt: envelope.Recipient{Addr: "team@example.test", Notify: "SUCCESS,FAILURE", ORCPT: "rfc822;Team@example.test"},
			expanded: 2, innerNotify: "FAILURE", wantInner: 2},
		// 5.2.7.2: one local target, a rewrite: NOTIFY unchanged.
		{rcpt: envelope.Recipient{Addr: "info@example.test", Notify: "SUCCESS"}, innerNotify: "SUCCESS", wantInner: 1},
		// 5.2.7.2: one forwarded target takes NOTIFY along and reports.
		{rcpt: envelope.Recipient{Addr: "ext@example.test", Notify: "SUCCESS"}, passed: true,
			fwdNotify: "SUCCESS", fwdORCPT: "rfc822;ext@example.test", fwdEnvID: "ENV1", fwdFrom: "sender@origin.test", wantForwards: 1},
		{rcpt: envelope.Recipient{Addr: "mix@example.test", Notify: "SUCCESS"}, expanded: 3, innerNotify: "NEVER", wantInner: 1,
			fwdNotify: "NEVER", fwdORCPT: "rfc822;mix@example.test", fwdEnvID: "ENV1", fwdFrom: "sender@origin.test", wantForwards: 1},
		// A target refused at expansion leaves one address: not an expansion.
		{rcpt: envelope.Recipient{Addr: "half@example.test", Notify: "SUCCESS"}, innerNotify: "SUCCESS", wantInner: 1},
		// 5.2.7.1: a list is a final delivery; its owner's copies carry
		// nothing of the request.
		{rcpt: envelope.Recipient{Addr: "list@example.test", Notify: "SUCCESS"}, innerNotify: "SUCCESS", wantInner: 1,
			fwdFrom: "owner-list@example.test", wantForwards: 1},
	}
	for _, tt := range tests {
		inner.got, forwards = nil, nil
		hs := &dsn.Handoffs{}
		env := &envelope.Envelope{ID: "DSNID-" + tt.rcpt.Addr[:4], From: "sender@origin.test", EnvID: "ENV1", DSNRet: "HDRS",
			Received: time.Unix(1763686800, 0), Size: int64(len(testMsg)), Rcpts: []envelope.Recipient{tt.rcpt}}
		errs := f.c.Deliver(dsn.WithHandoffs(context.Background(), hs), env, env.Rcpts, strings.NewReader(testMsg))
		if errs[0] != nil {
			t.Fatalf("%s: %v", tt.rcpt.Addr, errs[0])
		}
		h := hs.Lookup(tt.rcpt.Addr)
		if h.Targets != tt.expanded || h.Expanded() != (tt.expanded >= 2) || h.Passed() != tt.passed || h.Relayed() {
			t.Errorf("%s: recorded %+v, want %d targets, passed %v", tt.rcpt.Addr, h, tt.expanded, tt.passed)
		}
		if len(inner.got) != tt.wantInner {
			t.Errorf("%s: %d local targets, want %d", tt.rcpt.Addr, len(inner.got), tt.wantInner)
		}
		wantORCPT := tt.rcpt.ORCPT
		if wantORCPT == "" {
			wantORCPT = "rfc822;" + tt.rcpt.Addr
		}
		for _, rc := range inner.got {
			if rc.Notify != tt.innerNotify || rc.ORCPT != wantORCPT {
				t.Errorf("%s: local target %s NOTIFY %q ORCPT %q, want %q %q", tt.rcpt.Addr, rc.Addr, rc.Notify, rc.ORCPT, tt.innerNotify, wantORCPT)
			}
		}
		if len(forwards) != tt.wantForwards {
			t.Fatalf("%s: %d forwards, want %d", tt.rcpt.Addr, len(forwards), tt.wantForwards)
		}
		for _, fw := range forwards {
			if fw.From != tt.fwdFrom || fw.EnvID != tt.fwdEnvID {
				t.Errorf("%s: forward from %q ENVID %q, want %q %q", tt.rcpt.Addr, fw.From, fw.EnvID, tt.fwdFrom, tt.fwdEnvID)
			}
			if (fw.DSNRet != "") != (tt.fwdEnvID != "") {
				t.Errorf("%s: forward RET %q", tt.rcpt.Addr, fw.DSNRet)
			}
			for _, rc := range fw.Rcpts {
				if rc.Notify != tt.fwdNotify || rc.ORCPT != tt.fwdORCPT {
					t.Errorf("%s: forwarded %s NOTIFY %q ORCPT %q, want %q %q", tt.rcpt.Addr, rc.Addr, rc.Notify, rc.ORCPT, tt.fwdNotify, tt.fwdORCPT)
				}
			}
		}
	}
}
