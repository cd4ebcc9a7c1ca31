package milter

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	gomilter "github.com/emersion/go-milter"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// TestApply calls apply directly with lists of changes and checks the
// message, the envelope, the verdict and the log line it leaves.
func TestApply(t *testing.T) {
	const msg = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
	type change = gomilter.ModifyAction
	for _, c := range []struct {
		name    string
		allowed gomilter.OptAction // what the milter negotiated; 0: everything
		mods    []change
		msg     string // the message after; "": unchanged
		rcpts   string // the recipients after; "": unchanged
		from    string // the sender after; "": unchanged
		hold    string // the quarantine rule; "": no verdict
		log     string // the changes logged; "": no log line
		err     string // apply fails with this
	}{{
		name: "no changes",
	}, {
		name: "headers",
		mods: []change{
			{Code: gomilter.ActAddHeader, HeaderName: "X-Score", HeaderValue: "1"},
			{Code: gomilter.ActInsertHeader, HeaderIndex: 0, HeaderName: "X-First", HeaderValue: "yes"},
			{Code: gomilter.ActChangeHeader, HeaderIndex: 1, HeaderName: "Subject", HeaderValue: "[x] hi"},
		},
		msg: "X-First: yes\r\nFrom: a@example.org\r\nSubject: [x] hi\r\nX-Score: 1\r\n\r\nbody\r\n",
		log: "add header X-Score, insert header X-First, change header Subject",
	}, {
		name: "body in chunks, logged once",
		mods: []change{{Code: gomilter.ActReplBody, Body: []byte("new\nbo")}, {Code: gomilter.ActReplBody, Body: []byte("dy\n")}},
		msg:  "From: a@example.org\r\nSubject: hi\r\n\r\nnew\r\nbody\r\n",
		log:  "replace body",
	}, {
		name: "envelope",
		mods: []change{
			{Code: gomilter.ActAddRcpt, Rcpt: "<carol@example.test>"},
			{Code: gomilter.ActAddRcpt, Rcpt: "Bob@example.test"},
			{Code: gomilter.ActDelRcpt, Rcpt: "bob@example.test"},
			{Code: gomilter.ActChangeFrom, From: "<bounces@example.org>"},
		},
		rcpts: "carol@example.test",
		from:  "bounces@example.org",
		log:   "add recipient carol@example.test, add recipient Bob@example.test, delete recipient bob@example.test, change sender to <bounces@example.org>",
	}, {
		name: "quarantine",
		mods: []change{{Code: gomilter.ActQuarantine, Reason: "  phish \r\n"}},
		hold: "milter t: quarantine: phish",
		log:  "quarantine",
	}, {
		name:    "not negotiated",
		allowed: allActions &^ gomilter.OptChangeFrom,
		mods:    []change{{Code: gomilter.ActAddHeader, HeaderName: "X-A", HeaderValue: "1"}, {Code: gomilter.ActChangeFrom, From: "<x@example.org>"}},
		err:     `change 'e' without negotiating it`,
	}, {
		name: "unknown change",
		mods: []change{{Code: 'Z'}},
		err:  `change 'Z' without negotiating it`,
	}, {
		name: "bad header name",
		mods: []change{{Code: gomilter.ActAddRcpt, Rcpt: "<carol@example.test>"}, {Code: gomilter.ActAddHeader, HeaderName: "Bad Name", HeaderValue: "x"}},
		err:  `bad header name "Bad Name"`,
	}, {
		name: "bad inserted header",
		mods: []change{{Code: gomilter.ActInsertHeader, HeaderName: "X-A", HeaderValue: "a\x00b"}},
		err:  "NUL in header value",
	}, {
		name: "bad changed header",
		mods: []change{{Code: gomilter.ActChangeHeader, HeaderIndex: 1, HeaderName: "Sub ject", HeaderValue: "x"}},
		err:  `bad header name "Sub ject"`,
	}, {
		name: "bad recipient",
		mods: []change{{Code: gomilter.ActAddRcpt, Rcpt: "no spaces@example.test"}},
		err:  `bad address "<no spaces@example.test>" from milter`,
	}, {
		name: "bad deleted recipient",
		mods: []change{{Code: gomilter.ActDelRcpt, Rcpt: "<a b@example.test>"}},
		err:  `bad address "<a b@example.test>" from milter`,
	}, {
		name: "bad sender",
		mods: []change{{Code: gomilter.ActChangeFrom, From: "<@bad>"}},
		err:  `bad address "<@bad>" from milter`,
	}} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			ch := New(Options{Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))})
			allowed := c.allowed
			if allowed == 0 {
				allowed = allActions
			}
			st := &mstate{f: &filter{Filter: Filter{Name: "t"}}, l: &link{s: &gomilter.ClientSession{ActionOpts: allowed}}}
			from, _, _ := smtp.ParseMail("FROM:<a@example.org>", smtp.ParseOptions{})
			txn := &inbound.Txn{Conn: &inbound.Conn{ID: "c1"}, From: from,
				Env: &envelope.Envelope{ID: "m1", From: "a@example.org", Rcpts: []envelope.Recipient{{Addr: "bob@example.test"}}}}
			m := &inbound.Message{}
			m.Write([]byte(msg))
			fields, bodyStart, err := splitHeader(m.Reader())
			if err != nil {
				t.Fatal(err)
			}

			v, err := ch.apply(context.Background(), st, txn, m, fields, bodyStart, c.mods)

			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				c.msg, c.rcpts, c.from = "", "", ""
			} else if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			got.ReadFrom(m.Reader())
			if want := cmp(c.msg, msg); got.String() != want {
				t.Errorf("message %q, want %q", got.String(), want)
			}
			var rcpts []string
			for _, r := range txn.Env.Rcpts {
				rcpts = append(rcpts, r.Addr)
			}
			if want := cmp(c.rcpts, "bob@example.test"); strings.Join(rcpts, " ") != want {
				t.Errorf("recipients %q, want %q", rcpts, want)
			}
			if want := cmp(c.from, "a@example.org"); txn.Env.From != want || txn.From.String() != want {
				t.Errorf("sender %q / %q, want %q", txn.Env.From, txn.From.String(), want)
			}
			switch {
			case c.hold == "" && v != nil:
				t.Errorf("verdict %+v, want none", v)
			case c.hold != "" && (v == nil || v.Action != inbound.Hold || v.Rule != c.hold || v.Reply != nil):
				t.Errorf("verdict %+v, want hold with rule %q", v, c.hold)
			}
			wantLog := ""
			if c.log != "" && c.err == "" {
				changes := c.log
				if strings.Contains(changes, " ") {
					changes = strconv.Quote(changes)
				}
				wantLog = `level=INFO msg="milter changes" conn=c1 msg=m1 milter=t changes=` + changes + "\n"
			}
			if logs.String() != wantLog {
				t.Errorf("log %q, want %q", logs.String(), wantLog)
			}
		})
	}
}

// cmp returns s, or def when s is "".
func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
