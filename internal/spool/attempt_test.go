package spool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/envelope"
)

// logRecorder is a slog.Handler that keeps each line's message and
// attributes, in order. The "notice" and "path" attributes (a random
// queue id, a temporary directory) are left out.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "notice" && a.Key != "path" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}

// fromFile drops the first attempt's copy of the content, so that the
// attempt reads the queue file as a retry does.
func fromFile(s *Spool, it *item) {
	s.mu.Lock()
	s.dropMem(it)
	s.mu.Unlock()
}

// nanos matches the times in state records.
var nanos = regexp.MustCompile(`\b[0-9]{15,}\b`)

// TestAttemptOutcomes makes single attempts, without Run, and checks what
// each leaves behind: the log lines in order, the state records, the
// notices queued and whether the message stays queued.
func TestAttemptOutcomes(t *testing.T) {
	type result map[string]error // per recipient; missing: delivered
	for _, c := range []struct {
		name    string
		env     envelope.Envelope
		results result
		short   bool          // the courier returns one result too few
		advance time.Duration // the clock moves on before the attempt
		cancel  bool          // the attempt runs during a shutdown
		setup   func(s *Spool, it *item)
		during  func(s *Spool) // called by the courier
		logs    []string
		state   []string // records left in the state file; T for times
		queued  bool     // the message is still queued after the attempt
		tries   int      // its attempt count then
		notices []string // listeners of the notices queued
	}{{
		name: "delivered",
		env:  envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		logs: []string{"INFO delivered id=M1 rcpt=a@x"},
	}, {
		name:    "success notice",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@local", Notify: "SUCCESS"}}},
		logs:    []string{"INFO delivered id=M1 rcpt=a@local", "INFO notice queued id=M1 kind=success to=sender@example.org rcpts=1"},
		notices: []string{ListenerDSN},
	}, {
		name:   "courier returns too few results",
		env:    envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}, {Addr: "b@x"}}},
		short:  true,
		logs:   []string{"INFO delivered id=M1 rcpt=a@x", "INFO delivery deferred id=M1 rcpt=b@x err=courier returned 1 results for 2 recipients"},
		state:  []string{"delivered 0 T", `attempt T T "courier returned 1 results for 2 recipients"`},
		queued: true,
		tries:  1,
	}, {
		name:    "permanent failure bounces",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		results: result{"a@x": reply550},
		logs: []string{"ERROR delivery failed id=M1 from=sender@example.org rcpt=a@x err=550 5.1.1 no such user",
			"INFO notice queued id=M1 kind=failure to=sender@example.org rcpts=1"},
		notices: []string{ListenerDSN},
	}, {
		name:    "bounce cannot be queued",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		results: result{"a@x": reply550},
		setup:   fromFile,
		during:  func(s *Spool) { os.Truncate(s.msgPath("M1"), 0) },
		logs: []string{"ERROR delivery failed id=M1 from=sender@example.org rcpt=a@x err=550 5.1.1 no such user",
			"ERROR queueing a bounce id=M1 err=dsn: reading the message: EOF"},
		state:  []string{`attempt T T "could not queue the bounce: dsn: reading the message: EOF"`},
		queued: true,
		tries:  1,
	}, {
		name:    "null sender failure goes to the postmaster",
		env:     envelope.Envelope{From: "", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		results: result{"a@x": reply550},
		logs: []string{"ERROR delivery failed id=M1 from= rcpt=a@x err=550 5.1.1 no such user",
			"INFO notice queued id=M1 kind=postmaster copy to=postmaster@localhost rcpts=1"},
		notices: []string{ListenerPostmasterDSN},
	}, {
		name:    "delivered, deferred and failed",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}, {Addr: "b@x"}, {Addr: "c@x"}}},
		results: result{"b@x": reply451, "c@x": reply550},
		logs: []string{"INFO delivered id=M1 rcpt=a@x",
			"INFO delivery deferred id=M1 rcpt=b@x err=451 4.4.1 could not connect",
			"ERROR delivery failed id=M1 from=sender@example.org rcpt=c@x err=550 5.1.1 no such user",
			"INFO notice queued id=M1 kind=failure to=sender@example.org rcpts=1"},
		state:   []string{"delivered 0 T", `failed 2 T "550 5.1.1 no such user"`, `attempt T T "451 4.4.1 could not connect"`},
		queued:  true,
		tries:   1,
		notices: []string{ListenerDSN},
	}, {
		name:    "expired",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		results: result{"a@x": reply451},
		advance: 2 * time.Hour,
		logs: []string{"INFO delivery deferred id=M1 rcpt=a@x err=451 4.4.1 could not connect",
			"ERROR delivery failed id=M1 from=sender@example.org rcpt=a@x err=message expired after 2h0m0s in the queue: 451 4.4.1 could not connect",
			"INFO notice queued id=M1 kind=failure to=sender@example.org rcpts=1"},
		notices: []string{ListenerDSN},
	}, {
		name:    "delay notice due",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		results: result{"a@x": reply451},
		advance: time.Hour,
		logs: []string{"INFO delivery deferred id=M1 rcpt=a@x err=451 4.4.1 could not connect",
			"INFO notice queued id=M1 kind=delay to=sender@example.org rcpts=1"},
		state:   []string{"warned T", `attempt T T "451 4.4.1 could not connect"`},
		queued:  true,
		tries:   1,
		notices: []string{ListenerDSN},
	}, {
		name:    "delay notice already sent",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		results: result{"a@x": reply451},
		advance: time.Hour,
		setup:   func(s *Spool, it *item) { it.warned = true },
		logs:    []string{"INFO delivery deferred id=M1 rcpt=a@x err=451 4.4.1 could not connect"},
		state:   []string{`attempt T T "451 4.4.1 could not connect"`},
		queued:  true,
		tries:   1,
	}, {
		name:    "shutdown neither counts nor expires",
		env:     envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		results: result{"a@x": reply451},
		advance: 3 * time.Hour,
		cancel:  true,
		logs:    []string{"INFO delivery deferred id=M1 rcpt=a@x err=451 4.4.1 could not connect"},
		queued:  true,
	}, {
		name:  "queue file vanished",
		env:   envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		setup: func(s *Spool, it *item) { fromFile(s, it); os.Remove(s.msgPath(it.env.ID)) },
		logs:  []string{"WARN queue file vanished id=M1"},
	}, {
		name: "corrupt queue file",
		env:  envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		setup: func(s *Spool, it *item) {
			fromFile(s, it)
			it.verified = false
			os.WriteFile(s.msgPath(it.env.ID), []byte("garbage"), 0o600)
		},
		logs: []string{"ERROR corrupt queue file moved aside id=M1 reason=corrupt queue file: 7 bytes, too short"},
	}, {
		name: "no recipients",
		env:  envelope.Envelope{From: "sender@example.org"},
		logs: []string{"WARN message without recipients removed id=M1 from=sender@example.org"},
	}, {
		name:  "every recipient done already",
		env:   envelope.Envelope{From: "sender@example.org", Rcpts: []envelope.Recipient{{Addr: "a@x"}}},
		setup: func(s *Spool, it *item) { it.final[0] = true },
	}} {
		t.Run(c.name, func(t *testing.T) {
			clock := newClock()
			var err error
			logs := &logRecorder{}
			var s *Spool
			courier := courierFunc(func(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
				if c.during != nil {
					c.during(s)
				}
				var errs []error
				for _, r := range rcpts {
					errs = append(errs, c.results[r.Addr])
				}
				if c.short {
					errs = errs[:len(errs)-1]
				}
				return errs
			})
			s, err = New(t.TempDir(), courier, slog.New(logs), Options{Now: clock.Now, Lifetime: 2 * time.Hour, WarnAfter: time.Hour,
				LocalRecipient: func(addr string) bool { return strings.HasSuffix(addr, "@local") }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			env := c.env
			env.ID = "M1"
			id := submitEnv(t, s, &env, "Subject: hi\r\n\r\nbody\r\n")
			s.mu.Lock()
			it := s.items[id]
			s.mu.Unlock()
			if c.setup != nil {
				c.setup(s, it)
			}
			clock.Advance(c.advance)
			ctx, cancel := context.WithCancel(context.Background())
			if c.cancel {
				cancel()
			}
			defer cancel()
			logs.lines = nil
			s.attempt(ctx, it)

			if got := strings.Join(logs.lines, "\n"); got != strings.Join(c.logs, "\n") {
				t.Errorf("log:\n%s\nwant:\n%s", got, strings.Join(c.logs, "\n"))
			}
			data, _ := os.ReadFile(s.statePath(id))
			if got, want := nanos.ReplaceAllString(string(data), "T"), strings.Join(append(c.state, ""), "\n"); got != want && (len(c.state) > 0 || len(data) > 0) {
				t.Errorf("state:\n%s\nwant:\n%s", got, want)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			kept := s.items[id]
			if (kept != nil) != c.queued {
				t.Fatalf("message queued: %v, want %v", kept != nil, c.queued)
			}
			if kept != nil && kept.attempts != c.tries {
				t.Errorf("%d attempts, want %d", kept.attempts, c.tries)
			}
			if _, err := os.Stat(s.msgPath(id)); (err == nil) != c.queued {
				t.Errorf("queue file: %v, want it there: %v", err, c.queued)
			}
			var notices []string
			for nid, n := range s.items {
				if nid != id {
					notices = append(notices, n.env.Listener)
				}
			}
			if strings.Join(notices, " ") != strings.Join(c.notices, " ") {
				t.Errorf("notices %q, want %q", notices, c.notices)
			}
		})
	}
}
