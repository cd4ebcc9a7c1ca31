package spool

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// fakeClock is the spool's clock in these tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// notice is one notification the spool queued and delivered.
type notice struct {
	to      string
	subject string
	perMsg  textproto.MIMEHeader
	rcpts   []textproto.MIMEHeader
	retType string
	env     *envelope.Envelope
}

// recorder is a Courier: messages from the null sender (the notices) are
// parsed and kept; every other recipient gets what script says.
type recorder struct {
	t       *testing.T
	mu      sync.Mutex
	notices []notice
	tries   map[string]int // per recipient address
	script  func(rcpt string, try int) error
	// failNotices makes every notice fail with 550; otherwise they are
	// delivered.
	failNotices bool
}

func newRecorder(t *testing.T, script func(rcpt string, try int) error) *recorder {
	return &recorder{t: t, tries: map[string]int{}, script: script}
}

func (r *recorder) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := make([]error, len(rcpts))
	raw, _ := io.ReadAll(io.NewSectionReader(body, 0, env.Size))
	if env.From == "" && bytes.Contains(raw, []byte("report-type=delivery-status")) {
		n := parseNotice(r.t, raw)
		n.to, n.env = rcpts[0].Addr, env
		r.notices = append(r.notices, n)
		if r.failNotices {
			for i := range errs {
				errs[i] = reply550
			}
		}
		return errs
	}
	for i, rc := range rcpts {
		r.tries[rc.Addr]++
		errs[i] = r.script(rc.Addr, r.tries[rc.Addr])
	}
	return errs
}

func (r *recorder) got() []notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notice(nil), r.notices...)
}

func (r *recorder) triesOf(addr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries[addr]
}

// parseNotice reads a notice back with net/mail and mime/multipart.
func parseNotice(t *testing.T, raw []byte) notice {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("notice: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("notice Content-Type %q", m.Header.Get("Content-Type"))
	}
	n := notice{subject: m.Header.Get("Subject")}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for i := 0; ; i++ {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("notice part: %v", err)
		}
		body, _ := io.ReadAll(p)
		switch i {
		case 1:
			tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(body, '\r', '\n'))))
			n.perMsg, _ = tr.ReadMIMEHeader()
			for {
				h, err := tr.ReadMIMEHeader()
				if len(h) > 0 {
					n.rcpts = append(n.rcpts, h)
				}
				if err != nil {
					break
				}
			}
		case 2:
			n.retType = p.Header.Get("Content-Type")
		}
	}
	return n
}

func submitEnv(t *testing.T, s *Spool, env *envelope.Envelope, content string) string {
	t.Helper()
	w, err := s.Create(env)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, content)
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env.ID
}

var (
	reply550 = &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"}
	reply451 = &smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "could not connect"}
)

// A 5xx bounces to the sender, with one block per failed recipient that
// asked for it; NOTIFY=NEVER suppresses; ENVID and ORCPT come back.
func TestBounceOnPermanentFailure(t *testing.T) {
	rec := newRecorder(t, func(rcpt string, try int) error {
		if strings.HasPrefix(rcpt, "bad") {
			return reply550
		}
		return nil
	})
	s, err := New(t.TempDir(), rec, testLog(t), Options{Hostname: "mx.example.test", Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	runSpool(t, s)
	id := submitEnv(t, s, &envelope.Envelope{From: "alice@example.org", EnvID: "ENV-42", DSNRet: "HDRS", Rcpts: []envelope.Recipient{
		{Addr: "good@x"}, {Addr: "bad1@x", ORCPT: "rfc822;Bad1@X"}, {Addr: "bad2@x", Notify: "NEVER"}, {Addr: "bad3@x", Notify: "FAILURE"},
	}}, "Subject: hi\r\n\r\nbody\r\n")
	waitFor(t, "the bounce", func() bool { return len(rec.got()) == 1 && len(s.Items()) == 0 })
	n := rec.got()[0]
	if n.to != "alice@example.org" || !strings.Contains(n.subject, "Undelivered") {
		t.Errorf("bounce to %q subject %q", n.to, n.subject)
	}
	if n.env.From != "" {
		t.Errorf("bounce from %q, want the null sender", n.env.From)
	}
	if n.perMsg.Get("Original-Envelope-Id") != "ENV-42" || n.perMsg.Get("X-Postern-Queue-Id") != id || n.perMsg.Get("Reporting-Mta") != "dns; mx.example.test" {
		t.Errorf("per-message fields %v", n.perMsg)
	}
	if len(n.rcpts) != 2 {
		t.Fatalf("%d recipient blocks, want 2 (bad1, bad3; bad2 said NEVER): %v", len(n.rcpts), n.rcpts)
	}
	if n.rcpts[0].Get("Final-Recipient") != "rfc822; bad1@x" || n.rcpts[0].Get("Original-Recipient") != "rfc822; Bad1@X" ||
		n.rcpts[0].Get("Action") != "failed" || n.rcpts[0].Get("Status") != "5.1.1" || n.rcpts[0].Get("Diagnostic-Code") != "smtp; 550 5.1.1 no such user" {
		t.Errorf("first block %v", n.rcpts[0])
	}
	if n.rcpts[1].Get("Final-Recipient") != "rfc822; bad3@x" {
		t.Errorf("second block %v", n.rcpts[1])
	}
	if n.retType != "text/rfc822-headers" {
		t.Errorf("RET=HDRS returned %q", n.retType)
	}
}

// A message from the null sender that fails goes to the postmaster (a
// double bounce); when that notice fails too, it is dropped: no loop.
func TestDoubleBounce(t *testing.T) {
	rec := newRecorder(t, func(rcpt string, try int) error { return reply550 })
	rec.failNotices = true
	s, err := New(t.TempDir(), rec, testLog(t), Options{Hostname: "mx.example.test", Postmaster: "admin@example.test", Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "", Rcpts: []envelope.Recipient{{Addr: "gone@x", Notify: "NEVER"}}}, "Subject: a bounce\r\n\r\nx\r\n")
	waitFor(t, "the postmaster copy, failed and dropped", func() bool { return len(rec.got()) == 1 && len(s.Items()) == 0 })
	n := rec.got()[0]
	if n.to != "admin@example.test" || n.env.Listener != ListenerPostmasterDSN || !strings.Contains(n.subject, "Postmaster") {
		t.Errorf("double bounce to %q (%s) %q", n.to, n.env.Listener, n.subject)
	}
	if len(n.rcpts) != 1 || n.rcpts[0].Get("Final-Recipient") != "rfc822; gone@x" {
		t.Errorf("blocks %v", n.rcpts)
	}
	// A bounce we sent (to a sender) that fails goes to the postmaster too.
	submitEnv(t, s, &envelope.Envelope{From: "", Listener: ListenerDSN, Rcpts: []envelope.Recipient{{Addr: "sender@gone"}}}, "Subject: bounce\r\n\r\nx\r\n")
	waitFor(t, "second postmaster copy", func() bool { return len(rec.got()) == 2 && len(s.Items()) == 0 })
}

// Temporary failures are retried on the backoff schedule; one delay
// notice goes out after WarnAfter; at the end of the lifetime the
// recipient fails with 4.4.7 and the sender gets the bounce.
func TestRetryDelayWarningAndExpiry(t *testing.T) {
	clock := newClock()
	rec := newRecorder(t, func(rcpt string, try int) error { return reply451 })
	s, err := New(t.TempDir(), rec, testLog(t), Options{Hostname: "mx.example.test", Now: clock.Now,
		RetryInitial: 5 * time.Minute, RetryMax: 4 * time.Hour, WarnAfter: 4 * time.Hour, Lifetime: 120 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runSpool(t, s)
	start := clock.Now()
	id := submitEnv(t, s, &envelope.Envelope{From: "alice@example.org", Rcpts: []envelope.Recipient{{Addr: "slow@remote"}, {Addr: "quiet@remote", Notify: "FAILURE"}}}, "Subject: hi\r\n\r\nbody\r\n")
	attempts := func() int { return rec.triesOf("slow@remote") }
	waitFor(t, "first attempt", func() bool { return attempts() == 1 && len(s.Items()) == 1 && s.Items()[0].Attempts == 1 })
	// The schedule: 5m, 10m, 20m, 40m, 80m, 160m, then 4h each.
	var want []time.Duration
	for d := 5 * time.Minute; len(want) < 8; d = min(2*d, 4*time.Hour) {
		want = append(want, d)
	}
	prev := start
	for i, d := range want {
		it := s.Items()[0]
		if got := it.NextAttempt.Sub(prev); got != d {
			t.Fatalf("retry %d after %v, want %v", i+1, got, d)
		}
		// Not due a second before; Kick changes nothing.
		clock.Advance(it.NextAttempt.Sub(clock.Now()) - time.Second)
		s.Kick()
		clock.Advance(time.Second)
		prev = clock.Now()
		s.Kick()
		waitFor(t, "retry", func() bool { return attempts() == i+2 && s.Items()[0].Attempts == i+2 })
	}
	// 5+10+20+40+80+160+240+240 minutes have passed: over 4 hours, so
	// exactly one delay notice went out, for slow@remote only.
	notices := rec.got()
	if len(notices) != 1 {
		t.Fatalf("%d notices after %v, want 1 delay notice", len(notices), clock.Now().Sub(start))
	}
	n := notices[0]
	if !strings.Contains(n.subject, "Delayed") || len(n.rcpts) != 1 || n.rcpts[0].Get("Action") != "delayed" ||
		n.rcpts[0].Get("Final-Recipient") != "rfc822; slow@remote" || n.rcpts[0].Get("Status") != "4.4.1" || n.rcpts[0].Get("Will-Retry-Until") == "" {
		t.Errorf("delay notice %q %v", n.subject, n.rcpts)
	}
	if n.retType != "text/rfc822-headers" {
		t.Errorf("delay notice returns %q", n.retType)
	}
	// Past the lifetime: the next attempt fails for good.
	clock.Advance(start.Add(120 * time.Hour).Sub(clock.Now()))
	if err := s.Flush(id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "expiry", func() bool { return len(rec.got()) == 2 && len(s.Items()) == 0 })
	n = rec.got()[1]
	if len(n.rcpts) != 2 {
		t.Fatalf("expiry bounce blocks %v", n.rcpts)
	}
	for _, b := range n.rcpts {
		if b.Get("Action") != "failed" || b.Get("Status") != "4.4.7" || b.Get("Diagnostic-Code") != "smtp; 451 4.4.1 could not connect" {
			t.Errorf("expiry block %v", b)
		}
	}
	if n.retType != "message/rfc822" {
		t.Errorf("expiry bounce returns %q", n.retType)
	}
}

// The last retry is made when the lifetime ends, not a whole retry_max
// later.
func TestLastRetryAtLifetime(t *testing.T) {
	clock := newClock()
	rec := newRecorder(t, func(rcpt string, try int) error { return reply451 })
	s, _ := New(t.TempDir(), rec, testLog(t), Options{Now: clock.Now, RetryInitial: time.Hour, Lifetime: 90 * time.Minute})
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "a@x", Rcpts: []envelope.Recipient{{Addr: "b@y"}}}, "x\r\n")
	start := clock.Now()
	waitFor(t, "first attempt", func() bool { return len(s.Items()) == 1 && s.Items()[0].Attempts == 1 })
	clock.Advance(time.Hour)
	s.Kick()
	waitFor(t, "second attempt", func() bool { return len(s.Items()) == 1 && s.Items()[0].Attempts == 2 })
	if next := s.Items()[0].NextAttempt; !next.Equal(start.Add(90 * time.Minute)) {
		t.Errorf("last retry at %v, want the end of the lifetime", next.Sub(start))
	}
}

// NOTIFY=SUCCESS gets a "delivered" notice for a local mailbox only.
func TestSuccessNotice(t *testing.T) {
	rec := newRecorder(t, func(rcpt string, try int) error { return nil })
	s, _ := New(t.TempDir(), rec, testLog(t), Options{Now: newClock().Now, Hostname: "mx.example.test",
		LocalRecipient: func(addr string) bool { return strings.HasSuffix(addr, "@local.test") }})
	runSpool(t, s)
	submitEnv(t, s, &envelope.Envelope{From: "alice@example.org", EnvID: "E7", Rcpts: []envelope.Recipient{
		{Addr: "bob@local.test", Notify: "SUCCESS,FAILURE"}, {Addr: "carol@local.test"}, {Addr: "dave@remote.test", Notify: "SUCCESS"},
	}}, "Subject: hi\r\n\r\nbody\r\n")
	waitFor(t, "success notice", func() bool { return len(rec.got()) == 1 && len(s.Items()) == 0 })
	n := rec.got()[0]
	if !strings.Contains(n.subject, "Successful") || len(n.rcpts) != 1 || n.rcpts[0].Get("Action") != "delivered" ||
		n.rcpts[0].Get("Status") != "2.0.0" || n.rcpts[0].Get("Final-Recipient") != "rfc822; bob@local.test" || n.perMsg.Get("Original-Envelope-Id") != "E7" {
		t.Errorf("success notice %q %v %v", n.subject, n.perMsg, n.rcpts)
	}
}
