package deliver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/smtpclient"
)

// countingReader is the stored message, counting the bytes read from it.
type countingReader struct {
	r *strings.Reader
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestContentScan(t *testing.T) {
	big7 := strings.Repeat("seven bit line\r\n", 10000)
	cases := []struct {
		name       string
		body       string
		headerUTF8 bool
		eightBit   bool
	}{
		{"ascii", "Subject: hi\r\n\r\nhello\r\n", false, false},
		{"utf8 subject", "Subject: h\u00e9\r\n\r\nhello\r\n", true, true},
		{"utf8 folded header", "Subject: a\r\n \u00e9\r\n\r\nx\r\n", true, true},
		{"utf8 body", "Subject: hi\r\n\r\nh\u00e9llo\r\n", false, true},
		{"latin1 body", "Subject: hi\r\n\r\nh\xe9llo\r\n", false, true},
		{"nul in body", "Subject: hi\r\n\r\nh\x00llo\r\n", false, true},
		{"bare LF header end", "Subject: hi\n\nh\u00e9\n", false, true},
		{"no body", "Subject: hi\r\n", false, false},
		{"no header", "\r\nh\u00e9\r\n", false, true},
		{"empty", "", false, false},
		{"8-bit late in a big body", "Subject: x\r\n\r\n" + big7 + "\xff\r\n", false, true},
		{"8-bit across a buffer edge", "Subject: x\r\n\r\n" + strings.Repeat("y", 32*1024-13) + "\u00e9", false, true},
		{"empty line only after the buffer", "Subject: " + strings.Repeat("y", 40000) + "\r\n\r\n\u00e9", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newContentScan(strings.NewReader(c.body), int64(len(c.body)))
			if err := s.run(true); err != nil {
				t.Fatal(err)
			}
			if s.headerUTF8 != c.headerUTF8 || s.eightBit != c.eightBit {
				t.Errorf("headerUTF8=%v eightBit=%v, want %v %v", s.headerUTF8, s.eightBit, c.headerUTF8, c.eightBit)
			}
			// The header alone first, then on: the same answers.
			s = newContentScan(strings.NewReader(c.body), int64(len(c.body)))
			if err := s.run(false); err != nil {
				t.Fatal(err)
			}
			if s.headerUTF8 != c.headerUTF8 {
				t.Errorf("header only: headerUTF8=%v", s.headerUTF8)
			}
			if err := s.run(true); err != nil {
				t.Fatal(err)
			}
			if s.headerUTF8 != c.headerUTF8 || s.eightBit != c.eightBit {
				t.Errorf("resumed: headerUTF8=%v eightBit=%v, want %v %v", s.headerUTF8, s.eightBit, c.headerUTF8, c.eightBit)
			}
		})
	}

	// The header question does not read the body; a found 8-bit byte
	// ends the pass; a message shorter than announced is an error.
	msg := "Subject: hi\r\n\r\n\u00e9" + big7
	cr := &countingReader{r: strings.NewReader(msg)}
	s := newContentScan(cr, int64(len(msg)))
	if err := s.run(false); err != nil || s.headerUTF8 {
		t.Fatal(err, s.headerUTF8)
	}
	if cr.n > 32*1024 {
		t.Errorf("header scan read %d bytes", cr.n)
	}
	if err := s.run(true); err != nil || !s.eightBit {
		t.Fatal(err, s.eightBit)
	}
	if cr.n > 2*32*1024 {
		t.Errorf("scan went on after the first 8-bit byte: %d bytes read", cr.n)
	}
	s = newContentScan(strings.NewReader("Subject: x\r\n"), 100)
	if err := s.run(true); err == nil {
		t.Error("short message: no error")
	}
}

// sinkLog is a logger whose text the test reads.
type sinkLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *sinkLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *sinkLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestRemoteDowngradeToSmtpSink delivers to Postfix's smtp-sink, which
// never offers SMTPUTF8 and, with -8, not 8BITMIME either: messages that
// were received with SMTPUTF8 or BODY=8BITMIME but do not need them go
// without the parameter; those that need them are returned.
func TestRemoteDowngradeToSmtpSink(t *testing.T) {
	dir8, dir7 := t.TempDir(), t.TempDir()
	port8 := smtpSink(t, dir8)       // 8BITMIME, no SMTPUTF8
	port7 := smtpSink(t, dir7, "-8") // neither
	cases := []struct {
		name     string
		port     int
		from, to string
		utf8     bool
		body     string // BODY= as received
		content  string
		code     int    // 0: delivered
		enhanced string // of the refusal
		mailArgs string // for a delivered one: X-Mail-Args must hold it
		noArgs   []string
		logged   string // downgraded= on the sent line
	}{
		{name: "ascii with SMTPUTF8", port: port8, from: "a@example.org", to: "b@sink.example", utf8: true,
			content: "Subject: plain\r\n\r\nhi\r\n", noArgs: []string{"SMTPUTF8"}, logged: "downgraded=smtputf8"},
		{name: "utf8 body with SMTPUTF8 and 8BITMIME", port: port8, from: "a@example.org", to: "b@sink.example", utf8: true, body: "8BITMIME",
			content: "Subject: body\r\n\r\nh\u00e9\r\n", mailArgs: "BODY=8BITMIME", noArgs: []string{"SMTPUTF8"}, logged: "downgraded=smtputf8"},
		{name: "utf8 body with SMTPUTF8 only", port: port8, from: "a@example.org", to: "b@sink.example", utf8: true,
			content: "Subject: implied\r\n\r\nh\u00e9\r\n", mailArgs: "BODY=8BITMIME", noArgs: []string{"SMTPUTF8"}, logged: "downgraded=smtputf8"},
		{name: "utf8 body with SMTPUTF8 only, hop without 8BITMIME", port: port7, from: "a@example.org", to: "b@sink.example", utf8: true,
			content: "Subject: implied2\r\n\r\nh\u00e9\r\n", code: 554, enhanced: "5.6.3"},
		{name: "utf8 recipient", port: port8, from: "a@example.org", to: "j\u00f6rg@sink.example", utf8: true,
			content: "Subject: rcpt\r\n\r\nhi\r\n", code: 553, enhanced: "5.6.7"},
		{name: "utf8 sender", port: port8, from: "j\u00f6rg@example.org", to: "b@sink.example", utf8: true,
			content: "Subject: sender\r\n\r\nhi\r\n", code: 553, enhanced: "5.6.7"},
		{name: "utf8 subject", port: port8, from: "a@example.org", to: "b@sink.example", utf8: true,
			content: "Subject: h\u00e9\r\n\r\nhi\r\n", code: 553, enhanced: "5.6.7"},
		{name: "8BITMIME with 7-bit content", port: port7, from: "a@example.org", to: "b@sink.example", body: "8BITMIME",
			content: "Subject: seven\r\n\r\nhi\r\n", noArgs: []string{"BODY="}, logged: "downgraded=8bitmime"},
		{name: "both, ascii", port: port7, from: "a@example.org", to: "b@sink.example", utf8: true, body: "8BITMIME",
			content: "Subject: both\r\n\r\nhi\r\n", noArgs: []string{"BODY=", "SMTPUTF8"}, logged: "downgraded=smtputf8,8bitmime"},
		{name: "8-bit body", port: port7, from: "a@example.org", to: "b@sink.example", body: "8BITMIME",
			content: "Subject: eight\r\n\r\nh\xe9\r\n", code: 554, enhanced: "5.6.3"},
		{name: "utf8 body, SMTPUTF8 and 8BITMIME, hop without 8BITMIME", port: port7, from: "a@example.org", to: "b@sink.example", utf8: true, body: "8BITMIME",
			content: "Subject: eight2\r\n\r\nh\u00e9\r\n", code: 554, enhanced: "5.6.3"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := dir8
			if c.port == port7 {
				dir = dir7
			}
			before := len(sinkFiles(t, dir))
			r := newRemote(t, dnstest.Zone{"sink.example. A": {"127.0.0.1"}}, c.port)
			lg := &sinkLog{}
			r.Log = slog.New(slog.NewTextHandler(lg, nil))
			env, rcpts, body := message("D"+string(rune('A'+i)), c.from, c.content, c.to)
			env.SMTPUTF8, env.Body = c.utf8, c.body
			err := r.Deliver(context.Background(), env, rcpts, body)[0]
			if c.code != 0 {
				wantReply(t, c.name, err, c.code, c.enhanced)
				time.Sleep(100 * time.Millisecond)
				if n := len(sinkFiles(t, dir)); n != before {
					t.Errorf("content sent although refused")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			subject := strings.SplitN(c.content, "\r\n", 2)[0]
			var dump string
			for k := 0; k < 100 && dump == ""; k++ {
				for _, f := range sinkFiles(t, dir) {
					if strings.Contains(f, subject+"\n") {
						dump = f
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			if dump == "" {
				t.Fatalf("%q not in the sink", subject)
			}
			args := ""
			for _, l := range strings.Split(dump, "\n") {
				if strings.HasPrefix(l, "X-Mail-Args:") {
					args = l
				}
			}
			if args == "" || !strings.Contains(args, c.mailArgs) {
				t.Errorf("MAIL arguments %q, want %q", args, c.mailArgs)
			}
			for _, no := range c.noArgs {
				if strings.Contains(args, no) {
					t.Errorf("MAIL arguments %q hold %s", args, no)
				}
			}
			if !strings.Contains(lg.String(), c.logged) {
				t.Errorf("log lacks %s:\n%s", c.logged, lg)
			}
		})
	}
}

// A server that offers the extensions gets the parameters unchanged and
// nothing is read ahead of the transfer.
func TestRemoteNoDowngradeWhenOffered(t *testing.T) {
	rx := startReceiver(t, &receiver{Ext: []string{"PIPELINING", "8BITMIME", "SMTPUTF8"}})
	r := newRemote(t, dnstest.Zone{"example.net. A": {"127.0.0.1"}}, rx.Port)
	lg := &sinkLog{}
	r.Log = slog.New(slog.NewTextHandler(lg, nil))
	env, rcpts, body := message("N1", "j\u00f6rg@example.org", "Subject: h\u00e9\r\n\r\nh\u00e9\r\n", "b@example.net")
	env.SMTPUTF8, env.Body = true, "8BITMIME"
	if err := r.Deliver(context.Background(), env, rcpts, body)[0]; err != nil {
		t.Fatal(err)
	}
	cmds := strings.Join(rx.Commands(), "\n")
	if !strings.Contains(cmds, "BODY=8BITMIME SMTPUTF8") {
		t.Errorf("parameters not passed on:\n%s", cmds)
	}
	if strings.Contains(lg.String(), "downgraded") {
		t.Errorf("downgrade logged:\n%s", lg)
	}
}

// fitMessage decides for the recipients of this transaction only, and
// leaves a message alone when the server offers what it was received with.
func TestFitMessage(t *testing.T) {
	content := "Subject: x\r\n\r\nhi\r\n"
	scan := func() *contentScan { return newContentScan(strings.NewReader(content), int64(len(content))) }
	none := smtpclient.ParseEHLO("mx.example\nPIPELINING")
	m := &smtpclient.Message{From: "a@example.org", SMTPUTF8: true, Rcpts: []smtpclient.Rcpt{{Addr: "b@example.net"}}}
	if d, err := fitMessage(none, m, scan()); err != nil || m.SMTPUTF8 || strings.Join(d, ",") != "smtputf8" {
		t.Errorf("ascii: %v %v %v", d, err, m.SMTPUTF8)
	}
	m = &smtpclient.Message{From: "a@example.org", SMTPUTF8: true, Rcpts: []smtpclient.Rcpt{{Addr: "b@example.net", ORCPT: "utf-8;j\u00f6rg@example.net"}}}
	if _, err := fitMessage(none, m, scan()); err == nil || !m.SMTPUTF8 {
		t.Errorf("non-ASCII ORCPT: %v", err)
	}
	m = &smtpclient.Message{From: "a@example.org", SMTPUTF8: true, Body: "8BITMIME"}
	both := smtpclient.ParseEHLO("mx.example\n8BITMIME\nSMTPUTF8")
	if d, err := fitMessage(both, m, nil); err != nil || len(d) != 0 || !m.SMTPUTF8 || m.Body != "8BITMIME" {
		t.Errorf("offered: %v %v %+v", d, err, m)
	}
	m = &smtpclient.Message{From: "a@example.org", Body: "7BIT"}
	if d, err := fitMessage(none, m, nil); err != nil || len(d) != 0 || m.Body != "7BIT" {
		t.Errorf("7BIT: %v %v %+v", d, err, m)
	}
}

// FuzzContentScan checks the scan against a plain reading: the header
// section ends at the first line holding nothing but CRs before its LF.
func FuzzContentScan(f *testing.F) {
	for _, s := range []string{"", "Subject: x\r\n\r\nbody\r\n", "a: \u00e9\n\nb", "\r\n\xff", "a\r\r\n\r\n\x00", "x: y\r\n\r\r\n\u00e9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var header, eight bool
		inHeader := true
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			for _, c := range line {
				if c >= 0x80 || c == 0 {
					eight = true
					if inHeader && c != 0 {
						header = true
					}
				}
			}
			if inHeader && bytes.HasSuffix(line, []byte("\n")) && len(bytes.Trim(line, "\r\n")) == 0 && !bytes.Contains(line[:len(line)-1], []byte("\n")) {
				inHeader = false
			}
		}
		s := newContentScan(bytes.NewReader(b), int64(len(b)))
		if err := s.run(true); err != nil {
			t.Fatal(err)
		}
		if s.headerUTF8 != header || s.eightBit != eight {
			t.Errorf("%q: headerUTF8=%v eightBit=%v, want %v %v", b, s.headerUTF8, s.eightBit, header, eight)
		}
	})
}
