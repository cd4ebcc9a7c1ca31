package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// parsed is a notification read back with the standard library.
type parsed struct {
	header   mail.Header
	human    string
	perMsg   textproto.MIMEHeader
	perRcpt  []textproto.MIMEHeader
	retType  string
	returned string
}

// parseDSN checks the RFC 3464 / RFC 6522 structure and returns the parts.
func parseDSN(t testing.TB, raw []byte) parsed {
	t.Helper()
	var p parsed
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, raw)
	}
	p.header = m.Header
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []*multipart.Part
	var bodies [][]byte
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("multipart body: %v", err)
		}
		parts = append(parts, part)
		bodies = append(bodies, b)
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3", len(parts))
	}
	// RFC 6522 3: the first part is human-readable text.
	if ct := parts[0].Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("first part %q", ct)
	}
	p.human = string(bodies[0])
	if ct := parts[1].Header.Get("Content-Type"); ct != "message/delivery-status" {
		t.Fatalf("second part %q", ct)
	}
	// RFC 3464 2.1: per-message fields, then per-recipient blocks, each
	// block ended by a blank line.
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bodies[1], '\r', '\n'))))
	if p.perMsg, err = tr.ReadMIMEHeader(); err != nil {
		t.Fatalf("per-message fields: %v", err)
	}
	for {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			p.perRcpt = append(p.perRcpt, h)
		}
		if err != nil {
			break
		}
	}
	p.retType = parts[2].Header.Get("Content-Type")
	p.returned = string(bodies[2])
	return p
}

// checkRequired checks the fields RFC 3464 requires in every report.
func checkRequired(t *testing.T, p parsed) {
	t.Helper()
	for _, f := range []string{"From", "To", "Date", "Subject", "Message-Id", "Mime-Version", "Auto-Submitted"} {
		if p.header.Get(f) == "" {
			t.Errorf("header %s missing", f)
		}
	}
	if _, err := p.header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if _, err := p.header.AddressList("From"); err != nil {
		t.Errorf("From: %v", err)
	}
	// RFC 3464 2.2.2: Reporting-MTA is required.
	if !strings.HasPrefix(p.perMsg.Get("Reporting-MTA"), "dns; ") {
		t.Errorf("Reporting-MTA %q", p.perMsg.Get("Reporting-MTA"))
	}
	if len(p.perRcpt) == 0 {
		t.Fatal("no per-recipient fields")
	}
	for i, r := range p.perRcpt {
		// RFC 3464 2.3: Final-Recipient, Action and Status are required.
		if !strings.HasPrefix(r.Get("Final-Recipient"), "rfc822; ") {
			t.Errorf("rcpt %d Final-Recipient %q", i, r.Get("Final-Recipient"))
		}
		switch r.Get("Action") {
		case "failed", "delayed", "delivered", "relayed", "expanded":
		default:
			t.Errorf("rcpt %d Action %q", i, r.Get("Action"))
		}
		if !ValidStatus(r.Get("Status")) {
			t.Errorf("rcpt %d Status %q", i, r.Get("Status"))
		}
	}
}

type fixture struct {
	env     *envelope.Envelope
	content string
}

func newFixture(ret, envid string) fixture {
	content := "From: Alice <alice@example.org>\r\nSubject: hello\r\nMessage-ID: <m1@example.org>\r\n\r\nbody line 1\r\nbody line 2\r\n"
	return fixture{
		env: &envelope.Envelope{
			ID: "0ABC", From: "alice@example.org", DSNRet: ret, EnvID: envid,
			Received: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Size: int64(len(content)),
			Rcpts: []envelope.Recipient{{Addr: "bob@example.net", ORCPT: "rfc822;Bob@Example.NET"}, {Addr: "carol@example.net"}},
		},
		content: content,
	}
}

func TestBuild(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	rep550 := &smtp.Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user", Err: errors.New("/var/mail/secret/path: not found")}
	tests := []struct {
		name      string
		kind      Kind
		ret       string
		envid     string
		maxReturn int64
		errs      []error
		wantRet   string // Content-Type of the third part
		wantFull  bool
		wantAct   string
		wantStat  []string
		wantSubj  string
	}{
		{name: "failure full", kind: Failure, errs: []error{rep550, rep550}, wantRet: "message/rfc822", wantFull: true,
			wantAct: "failed", wantStat: []string{"5.1.1", "5.1.1"}, wantSubj: "Undelivered"},
		{name: "failure RET=FULL ENVID", kind: Failure, ret: "FULL", envid: "QQ314159", errs: []error{rep550, rep550},
			wantRet: "message/rfc822", wantFull: true, wantAct: "failed", wantStat: []string{"5.1.1", "5.1.1"}, wantSubj: "Undelivered"},
		{name: "failure RET=HDRS", kind: Failure, ret: "HDRS", errs: []error{rep550, errors.New("disk full")},
			wantRet: "text/rfc822-headers", wantAct: "failed", wantStat: []string{"5.1.1", "5.0.0"}, wantSubj: "Undelivered"},
		{name: "failure too large", kind: Failure, maxReturn: 10, errs: []error{rep550, rep550},
			wantRet: "text/rfc822-headers", wantAct: "failed", wantStat: []string{"5.1.1", "5.1.1"}, wantSubj: "Undelivered"},
		{name: "failure without enhanced code", kind: Failure, errs: []error{&smtp.Reply{Code: 554, Text: "go away"}, &smtp.Reply{Code: 550, Enhanced: "4.1.1", Text: "wrong class"}},
			wantRet: "message/rfc822", wantFull: true, wantAct: "failed", wantStat: []string{"5.0.0", "5.0.0"}, wantSubj: "Undelivered"},
		{name: "delay", kind: Delay, errs: []error{&smtp.Reply{Code: 451, Enhanced: "4.4.1", Text: "could not connect"}, errors.New("x")},
			wantRet: "text/rfc822-headers", wantAct: "delayed", wantStat: []string{"4.4.1", "4.0.0"}, wantSubj: "Delayed"},
		{name: "success", kind: Success, errs: []error{nil, nil}, envid: "E1",
			wantRet: "text/rfc822-headers", wantAct: "delivered", wantStat: []string{"2.0.0", "2.0.0"}, wantSubj: "Successful"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(tt.ret, tt.envid)
			r := Report{Kind: tt.kind, Env: f.env, To: f.env.From, Content: strings.NewReader(f.content)}
			for i, rc := range f.env.Rcpts {
				st, diag, remote := FromError(tt.errs[i], tt.kind)
				r.Rcpts = append(r.Rcpts, Recipient{Recipient: rc, Status: st, Diagnostic: diag, RemoteMTA: remote, LastAttempt: now, WillRetryUntil: now.Add(time.Hour)})
			}
			b, err := Build(r, Options{Hostname: "mx.example.test", Now: now, MaxReturn: tt.maxReturn, Until: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			p := parseDSN(t, b.Content)
			checkRequired(t, p)
			if from := p.header.Get("From"); !strings.Contains(from, "MAILER-DAEMON@mx.example.test") {
				t.Errorf("From %q", from)
			}
			if to := p.header.Get("To"); to != "<alice@example.org>" {
				t.Errorf("To %q", to)
			}
			if !strings.Contains(p.header.Get("Subject"), tt.wantSubj) {
				t.Errorf("Subject %q", p.header.Get("Subject"))
			}
			if p.perMsg.Get("Reporting-MTA") != "dns; mx.example.test" {
				t.Errorf("Reporting-MTA %q", p.perMsg.Get("Reporting-MTA"))
			}
			if ad, err := mail.ParseDate(p.perMsg.Get("Arrival-Date")); err != nil || !ad.Equal(f.env.Received) {
				t.Errorf("Arrival-Date %q: %v", p.perMsg.Get("Arrival-Date"), err)
			}
			if got := p.perMsg.Get("Original-Envelope-Id"); got != tt.envid {
				t.Errorf("Original-Envelope-Id %q, want %q", got, tt.envid)
			}
			if len(p.perRcpt) != 2 {
				t.Fatalf("%d recipient blocks", len(p.perRcpt))
			}
			if got := p.perRcpt[0].Get("Original-Recipient"); got != "rfc822; Bob@Example.NET" {
				t.Errorf("Original-Recipient %q", got)
			}
			if got := p.perRcpt[1].Get("Original-Recipient"); got != "" {
				t.Errorf("Original-Recipient without ORCPT: %q", got)
			}
			for i, rc := range p.perRcpt {
				if rc.Get("Final-Recipient") != "rfc822; "+f.env.Rcpts[i].Addr {
					t.Errorf("Final-Recipient %q", rc.Get("Final-Recipient"))
				}
				if rc.Get("Action") != tt.wantAct || rc.Get("Status") != tt.wantStat[i] {
					t.Errorf("rcpt %d: Action %q Status %q, want %q %q", i, rc.Get("Action"), rc.Get("Status"), tt.wantAct, tt.wantStat[i])
				}
				if _, err := mail.ParseDate(rc.Get("Last-Attempt-Date")); err != nil {
					t.Errorf("Last-Attempt-Date: %v", err)
				}
				if tt.kind == Delay {
					if _, err := mail.ParseDate(rc.Get("Will-Retry-Until")); err != nil {
						t.Errorf("Will-Retry-Until: %v", err)
					}
				} else if rc.Get("Will-Retry-Until") != "" {
					t.Errorf("Will-Retry-Until in a %s report", tt.wantAct)
				}
			}
			if tt.errs[0] == rep550 && p.perRcpt[0].Get("Diagnostic-Code") != "smtp; 550 5.1.1 no such user" {
				t.Errorf("Diagnostic-Code %q", p.perRcpt[0].Get("Diagnostic-Code"))
			}
			if strings.Contains(string(b.Content), "secret") {
				t.Error("the internal cause of an error leaked into the report")
			}
			if p.retType != tt.wantRet {
				t.Errorf("returned part %q, want %q", p.retType, tt.wantRet)
			}
			hdrs, _, _ := strings.Cut(f.content, "\r\n\r\n")
			if tt.wantFull {
				if p.returned != f.content {
					t.Errorf("returned message %q", p.returned)
				}
			} else {
				if strings.Contains(p.returned, "body line") || !strings.Contains(p.returned, "Subject: hello") {
					t.Errorf("returned headers %q", p.returned)
				}
				if strings.TrimRight(p.returned, "\r\n") != hdrs {
					t.Errorf("returned headers %q, want %q", p.returned, hdrs)
				}
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	f := newFixture("", "")
	rc := []Recipient{{Recipient: f.env.Rcpts[0]}}
	for name, r := range map[string]Report{
		"null sender":   {Env: f.env, To: "", Rcpts: rc},
		"no recipients": {Env: f.env, To: "a@b"},
		"no envelope":   {To: "a@b", Rcpts: rc},
	} {
		if _, err := Build(r, Options{Hostname: "h"}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Build(Report{Env: f.env, To: "a@b", Rcpts: rc}, Options{}); err == nil {
		t.Error("no hostname: no error")
	}
}

// Hostile values stay on their lines and a returned message holding the
// boundary or bare line ends cannot break the structure.
func TestBuildHostileValues(t *testing.T) {
	f := newFixture("", "id\r\nBcc: x@y")
	f.env.Rcpts[0].Addr = "evil\r\nX-Injected: 1@example.net"
	f.content = "Subject: x\n\n--=_postern_\rline\r\n.\r\n"
	f.env.Size = int64(len(f.content))
	r := Report{Kind: Failure, Env: f.env, To: "alice@example.org\r\nBcc: all@example.org", Content: strings.NewReader(f.content),
		Rcpts: []Recipient{{Recipient: f.env.Rcpts[0], Status: "5.1.1", Diagnostic: "smtp; 550 a\r\nb"}}}
	b, err := Build(r, Options{Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	p := parseDSN(t, b.Content)
	checkRequired(t, p)
	if p.header.Get("Bcc") != "" || p.perMsg.Get("Bcc") != "" || p.perRcpt[0].Get("X-Injected") != "" {
		t.Errorf("a value added a header:\n%s", b.Content)
	}
	if !strings.Contains(p.returned, "--=_postern_\r\nline") {
		t.Errorf("returned %q", p.returned)
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		notify             string
		failure, delay, ok bool
	}{
		{"", true, true, false},
		{"NEVER", false, false, false},
		{"SUCCESS", false, false, true},
		{"FAILURE", true, false, false},
		{"failure,delay", true, true, false},
		{"SUCCESS,FAILURE,DELAY", true, true, true},
		{"DELAY", false, true, false},
	}
	for _, tt := range tests {
		if Wants(tt.notify, Failure) != tt.failure || Wants(tt.notify, Delay) != tt.delay || Wants(tt.notify, Success) != tt.ok {
			t.Errorf("Wants(%q) wrong", tt.notify)
		}
	}
}

func TestValidStatus(t *testing.T) {
	for s, want := range map[string]bool{"5.1.1": true, "2.0.0": true, "4.4.7": true, "5.999.999": true,
		"3.0.0": false, "5.1": false, "5.01.1": false, "5.1.1000": false, "": false, "5.a.1": false, "5..1": false} {
		if ValidStatus(s) != want {
			t.Errorf("ValidStatus(%q) = %v", s, !want)
		}
	}
}

// remoteErr is a delivery error that names the server that answered.
type remoteErr struct{ r *smtp.Reply }

func (e remoteErr) Error() string   { return e.r.Error() }
func (e remoteErr) Unwrap() error   { return e.r }
func (remoteErr) RemoteMTA() string { return "mx.remote.example" }

func TestFromErrorRemote(t *testing.T) {
	st, diag, remote := FromError(fmt.Errorf("wrapped: %w", remoteErr{&smtp.Reply{Code: 550, Enhanced: "5.7.1", Text: "refused\nsecond line"}}), Failure)
	if st != "5.7.1" || diag != "smtp; 550 5.7.1 refused second line" || remote != "mx.remote.example" {
		t.Errorf("got %q %q %q", st, diag, remote)
	}
}

// FuzzBuild: whatever the envelope, content and errors, a report parses
// back with one block per recipient.
func FuzzBuild(f *testing.F) {
	f.Add("alice@example.org", "bob@example.net", "rfc822;bob@example.net", "FULL", "ENV1", "Subject: x\r\n\r\nbody\r\n", 550, "5.1.1", "no such user", uint8(0))
	f.Add("a@b", "c@d", "", "HDRS", "", "no header end", 451, "4.4.1", "later", uint8(1))
	f.Add("a@b", "c\r\nd@e", "x;;", "", "\r\n", "\n\n\r\r--=_postern_", 250, "", "", uint8(2))
	f.Fuzz(func(t *testing.T, from, rcpt, orcpt, ret, envid, content string, code int, enh, text string, kind uint8) {
		if from == "" {
			return
		}
		env := &envelope.Envelope{ID: "X", From: from, DSNRet: ret, EnvID: envid, Size: int64(len(content)),
			Received: time.Unix(1763700000, 0), Rcpts: []envelope.Recipient{{Addr: rcpt, ORCPT: orcpt}}}
		k := Kind(kind % 3)
		st, diag, remote := FromError(&smtp.Reply{Code: code, Enhanced: enh, Text: text}, k)
		r := Report{Kind: k, Env: env, To: from, Content: strings.NewReader(content),
			Rcpts: []Recipient{{Recipient: env.Rcpts[0], Status: st, Diagnostic: diag, RemoteMTA: remote}}}
		b, err := Build(r, Options{Hostname: "mx.example.test", MaxReturn: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		p := parseDSN(t, b.Content)
		if len(p.perRcpt) != 1 || !ValidStatus(p.perRcpt[0].Get("Status")) || p.perRcpt[0].Get("Action") != k.Action() {
			t.Fatalf("recipient blocks %v", p.perRcpt)
		}
	})
}
