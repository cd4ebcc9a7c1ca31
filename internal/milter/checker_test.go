package milter

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/milter/spec"
	"postern/internal/smtp"
)

// handler answers one milter callback; nil handlers continue.
type handler func(m *gomilter.Modifier) (gomilter.Response, error)

// testMilter is a milter written with go-milter's server side. It records
// what it was told and answers with the handlers of its script.
type testMilter struct {
	mu      sync.Mutex
	events  []string
	macros  map[string]map[string]string // stage -> macros seen there
	headers []string                     // "Name: value" as received
	body    bytes.Buffer
	on      map[string]handler // stage -> answer
	delay   time.Duration      // before answering at the end of the message
}

func (tm *testMilter) record(stage, detail string, m *gomilter.Modifier) (gomilter.Response, error) {
	tm.mu.Lock()
	tm.events = append(tm.events, strings.TrimSpace(stage+" "+detail))
	if tm.macros == nil {
		tm.macros = map[string]map[string]string{}
	}
	if len(m.Macros) > 0 {
		mm := map[string]string{}
		for k, v := range m.Macros {
			mm[k] = v
		}
		tm.macros[stage] = mm
	}
	h := tm.on[stage]
	tm.mu.Unlock()
	if h != nil {
		return h(m)
	}
	return gomilter.RespContinue, nil
}

func (tm *testMilter) seen() []string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return append([]string(nil), tm.events...)
}

func (tm *testMilter) macro(stage, name string) string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.macros[stage][name]
}

// session is the go-milter Milter for one milter connection.
type session struct{ tm *testMilter }

func (s session) Connect(host, family string, port uint16, addr net.IP, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.tm.record("connect", fmt.Sprintf("%s %s %s", host, family, addr), m)
}

func (s session) Helo(name string, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.tm.record("helo", name, m)
}

func (s session) MailFrom(from string, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.tm.record("mail", from, m)
}

func (s session) RcptTo(to string, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.tm.record("rcpt", to, m)
}

func (s session) Header(name, value string, m *gomilter.Modifier) (gomilter.Response, error) {
	s.tm.mu.Lock()
	s.tm.headers = append(s.tm.headers, name+": "+value)
	s.tm.mu.Unlock()
	return s.tm.record("header", name, m)
}

func (s session) Headers(h textproto.MIMEHeader, m *gomilter.Modifier) (gomilter.Response, error) {
	return s.tm.record("eoh", "", m)
}

func (s session) BodyChunk(chunk []byte, m *gomilter.Modifier) (gomilter.Response, error) {
	s.tm.mu.Lock()
	s.tm.body.Write(chunk)
	s.tm.mu.Unlock()
	return s.tm.record("body", "", m)
}

func (s session) Body(m *gomilter.Modifier) (gomilter.Response, error) {
	time.Sleep(s.tm.delay)
	r, err := s.tm.record("eom", "", m)
	if r == gomilter.RespContinue {
		r = gomilter.RespAccept
	}
	return r, err
}

func (s session) Abort(m *gomilter.Modifier) error {
	s.tm.record("abort", "", m)
	return nil
}

const allActions = gomilter.OptAddHeader | gomilter.OptChangeBody | gomilter.OptAddRcpt |
	gomilter.OptRemoveRcpt | gomilter.OptChangeHeader | gomilter.OptQuarantine | gomilter.OptChangeFrom

// startMilter serves tm on a loopback port and returns its socket.
func startMilter(t *testing.T, tm *testMilter, actions gomilter.OptAction) spec.Socket {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &gomilter.Server{NewMilter: func() gomilter.Milter { return session{tm} }, Actions: actions}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return spec.Socket{Network: "tcp", Address: ln.Addr().String()}
}

// client is one SMTP connection driven through the checker's stages.
type client struct {
	t    *testing.T
	c    *Checker
	conn *inbound.Conn
	txn  *inbound.Txn
}

func newChecker(filters ...Filter) *Checker {
	return New(Options{Filters: filters, Hostname: "mx.example.test"})
}

func connect(t *testing.T, c *Checker, listener string) (*client, *inbound.Verdict) {
	t.Helper()
	conn := &inbound.Conn{
		ID:       "c1",
		Remote:   netip.MustParseAddrPort("127.0.0.2:41000"),
		Local:    netip.MustParseAddrPort("127.0.0.1:25"),
		Listener: listener,
		Values:   map[any]any{},
	}
	cl := &client{t: t, c: c, conn: conn}
	t.Cleanup(func() { c.Closed(conn) })
	return cl, c.CheckConnect(context.Background(), conn)
}

func (cl *client) helo(name string) *inbound.Verdict {
	cl.conn.Helo, cl.conn.EHLO = name, true
	return cl.c.CheckHelo(context.Background(), cl.conn)
}

func (cl *client) mail(from string) *inbound.Verdict {
	p, params, r := smtp.ParseMail("FROM:<"+from+">", smtp.ParseOptions{})
	if r != nil {
		cl.t.Fatal(r)
	}
	cl.txn = &inbound.Txn{Conn: cl.conn, From: p, Params: params, Values: map[any]any{},
		Env: &envelope.Envelope{From: p.String(), ClientIP: cl.conn.IP(), Helo: cl.conn.Helo}}
	return cl.c.CheckMail(context.Background(), cl.txn)
}

func (cl *client) rcpt(to string) *inbound.Verdict {
	p, _, r := smtp.ParseRcpt("TO:<"+to+">", smtp.ParseOptions{})
	if r != nil {
		cl.t.Fatal(r)
	}
	rc := envelope.Recipient{Addr: p.String()}
	v := cl.c.CheckRcpt(context.Background(), cl.txn, p, &rc)
	if v == nil || v.Reply == nil {
		cl.txn.Env.Rcpts = append(cl.txn.Env.Rcpts, rc)
	}
	return v
}

func (cl *client) data(msg string) (*inbound.Verdict, *inbound.Message) {
	m := &inbound.Message{}
	if _, err := m.Write([]byte(msg)); err != nil {
		cl.t.Fatal(err)
	}
	return cl.c.CheckData(context.Background(), cl.txn, m), m
}

// transaction runs MAIL, one RCPT and DATA, failing on any refusal.
func (cl *client) transaction(msg string) (*inbound.Verdict, string) {
	cl.t.Helper()
	if v := cl.mail("alice@example.org"); v != nil {
		cl.t.Fatalf("MAIL: %+v", v)
	}
	if v := cl.rcpt("bob@example.test"); v != nil {
		cl.t.Fatalf("RCPT: %+v", v)
	}
	v, m := cl.data(msg)
	var b bytes.Buffer
	b.ReadFrom(m.Reader())
	return v, b.String()
}

const testMsg = "From: Alice <alice@example.org>\r\n" +
	"To: bob@example.test\r\n" +
	"Subject: lunch\r\n" +
	"X-Folded: one\r\n" +
	"  two\r\n" +
	"Message-Id: <m1@example.org>\r\n" +
	"\r\n" +
	"Is lunch ready?\r\n"

func refusedWith(t *testing.T, what string, v *inbound.Verdict, code int) {
	t.Helper()
	if v == nil || v.Reply == nil || v.Reply.Code != code {
		t.Fatalf("%s: got %+v, want a %d refusal", what, v, code)
	}
}

func TestStagesAndMacros(t *testing.T) {
	tm := &testMilter{}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
	cl, v := connect(t, c, "mta")
	if v != nil {
		t.Fatal(v)
	}
	cl.conn.TLS = "TLSv1.3 TLS_AES_128_GCM_SHA256"
	cl.conn.AuthUser, cl.conn.AuthMech = "alice", "PLAIN"
	if v := cl.helo("client.example.org"); v != nil {
		t.Fatal(v)
	}
	v, msg := cl.transaction(testMsg)
	if v != nil || msg != testMsg {
		t.Fatalf("verdict %+v, message changed:\n%s", v, msg)
	}
	want := []string{
		"connect [127.0.0.2] tcp4 127.0.0.2",
		"helo client.example.org",
		"mail alice@example.org",
		"rcpt bob@example.test",
		"header From", "header To", "header Subject", "header X-Folded", "header Message-Id",
		"eoh", "body", "eom",
	}
	if got := tm.seen(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("milter saw\n%q\nwant\n%q", got, want)
	}
	for _, m := range []struct{ stage, name, want string }{
		{"connect", "j", "mx.example.test"},
		{"connect", "{client_addr}", "127.0.0.2"},
		{"connect", "{client_port}", "41000"},
		{"connect", "{client_name}", "[127.0.0.2]"},
		{"connect", "{daemon_name}", "mta"},
		{"connect", "{if_addr}", "127.0.0.1"},
		{"helo", "{tls_version}", "TLSv1.3"},
		{"helo", "{cipher}", "TLS_AES_128_GCM_SHA256"},
		{"mail", "i", cl.txn.Env.ID},
		{"mail", "{mail_addr}", "alice@example.org"},
		{"mail", "{mail_host}", "example.org"},
		{"mail", "{auth_authen}", "alice"},
		{"mail", "{auth_type}", "PLAIN"},
		{"rcpt", "{rcpt_addr}", "bob@example.test"},
		{"eom", "i", cl.txn.Env.ID},
		{"eom", "{msg_id}", "<m1@example.org>"},
	} {
		if got := tm.macro(m.stage, m.name); got != m.want || got == "" {
			t.Errorf("macro %s at %s = %q, want %q", m.name, m.stage, got, m.want)
		}
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if got := strings.Join(tm.headers, "|"); got != "From: Alice <alice@example.org>|To: bob@example.test|Subject: lunch|X-Folded: one\n  two|Message-Id: <m1@example.org>" {
		t.Errorf("headers as the milter got them: %q", got)
	}
	if tm.body.String() != "Is lunch ready?\r\n" {
		t.Errorf("body as the milter got it: %q", tm.body.String())
	}
}

func answer(r gomilter.Response) handler {
	return func(*gomilter.Modifier) (gomilter.Response, error) { return r, nil }
}

func TestRefusals(t *testing.T) {
	reply := gomilter.NewResponseStr('y', "554 5.7.1 spam detected, see https://example.test/why")
	for _, tc := range []struct {
		stage string
		resp  gomilter.Response
		code  int
		text  string
	}{
		{"connect", gomilter.RespReject, 550, "command rejected"},
		{"connect", gomilter.RespTempFail, 451, "please try again later"},
		{"helo", gomilter.RespReject, 550, "command rejected"},
		{"mail", gomilter.RespReject, 550, "command rejected"},
		{"mail", gomilter.RespTempFail, 451, "please try again later"},
		{"rcpt", gomilter.RespReject, 550, "recipient rejected"},
		{"rcpt", gomilter.RespTempFail, 451, "please try again later"},
		{"header", gomilter.RespReject, 550, "message rejected"},
		{"eoh", gomilter.RespTempFail, 451, "please try again later"},
		{"body", gomilter.RespReject, 550, "message rejected"},
		{"eom", gomilter.RespReject, 550, "message rejected"},
		{"eom", gomilter.RespTempFail, 451, "please try again later"},
		{"eom", reply, 554, "spam detected, see https://example.test/why"},
		{"rcpt", reply, 554, "spam detected, see https://example.test/why"},
	} {
		t.Run(tc.stage+"-"+fmt.Sprint(tc.code), func(t *testing.T) {
			tm := &testMilter{on: map[string]handler{tc.stage: answer(tc.resp)}}
			c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
			cl, v := connect(t, c, "mta")
			if v != nil {
				t.Fatalf("connect: %+v", v) // connection refusals come at MAIL
			}
			var got *inbound.Verdict
			if v := cl.helo("client.example.org"); v != nil {
				got = v
			} else if v := cl.mail("alice@example.org"); v != nil {
				got = v
			} else if v := cl.rcpt("bob@example.test"); v != nil {
				got = v
			} else {
				got, _ = cl.data(testMsg)
			}
			refusedWith(t, tc.stage, got, tc.code)
			if got.Reply.Text != tc.text || !strings.Contains(got.Rule, "milter t") {
				t.Errorf("reply %q rule %q", got.Reply.Text, got.Rule)
			}
			if tc.stage == "connect" || tc.stage == "helo" {
				// The refusal holds for every later transaction.
				refusedWith(t, "second MAIL", cl.mail("carol@example.org"), tc.code)
			}
		})
	}
}

func TestRcptRefusalIsPerRecipient(t *testing.T) {
	tm := &testMilter{on: map[string]handler{"rcpt": func(m *gomilter.Modifier) (gomilter.Response, error) {
		if m.Macros["{rcpt_addr}"] == "spamtrap@example.test" {
			return gomilter.RespReject, nil
		}
		return gomilter.RespContinue, nil
	}}}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
	cl, _ := connect(t, c, "mta")
	cl.mail("alice@example.org")
	refusedWith(t, "spamtrap", cl.rcpt("spamtrap@example.test"), 550)
	if v := cl.rcpt("bob@example.test"); v != nil {
		t.Fatalf("bob refused: %+v", v)
	}
	if v, _ := cl.data(testMsg); v != nil {
		t.Fatalf("data: %+v", v)
	}
	if len(cl.txn.Env.Rcpts) != 1 || cl.txn.Env.Rcpts[0].Addr != "bob@example.test" {
		t.Errorf("recipients %+v", cl.txn.Env.Rcpts)
	}
}

func TestAcceptSkipsTheRest(t *testing.T) {
	tm := &testMilter{on: map[string]handler{"mail": answer(gomilter.RespAccept)}}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
	cl, _ := connect(t, c, "mta")
	cl.helo("client.example.org")
	if v, _ := cl.transaction(testMsg); v != nil {
		t.Fatal(v)
	}
	// A second transaction is asked about again.
	cl.transaction(testMsg)
	got := strings.Join(tm.seen(), "|")
	if got != "connect [127.0.0.2] tcp4 127.0.0.2|helo client.example.org|mail alice@example.org|mail alice@example.org" {
		t.Errorf("after accept at MAIL the milter saw %q", got)
	}

	// Accept at connect: not asked again on this connection.
	tm2 := &testMilter{on: map[string]handler{"connect": answer(gomilter.RespAccept)}}
	c2 := newChecker(Filter{Name: "t", Socket: startMilter(t, tm2, allActions)})
	cl2, _ := connect(t, c2, "mta")
	cl2.helo("client.example.org")
	cl2.transaction(testMsg)
	if got := tm2.seen(); len(got) != 1 {
		t.Errorf("after accept at connect the milter saw %q", got)
	}
}

func TestChainOrder(t *testing.T) {
	first := &testMilter{on: map[string]handler{"eom": func(m *gomilter.Modifier) (gomilter.Response, error) {
		return gomilter.RespAccept, m.AddHeader("X-First", "was here")
	}}}
	second := &testMilter{}
	c := newChecker(
		Filter{Name: "first", Socket: startMilter(t, first, allActions)},
		Filter{Name: "second", Socket: startMilter(t, second, allActions)},
	)
	cl, _ := connect(t, c, "mta")
	if v, _ := cl.transaction(testMsg); v != nil {
		t.Fatal(v)
	}
	second.mu.Lock()
	hs := strings.Join(second.headers, "|")
	second.mu.Unlock()
	if !strings.HasSuffix(hs, "|X-First: was here") {
		t.Errorf("the second milter did not see the first one's header: %q", hs)
	}

	// The first milter that rejects stops the chain.
	rejecter := &testMilter{on: map[string]handler{"rcpt": answer(gomilter.RespReject)}}
	after := &testMilter{}
	c = newChecker(
		Filter{Name: "rejecter", Socket: startMilter(t, rejecter, allActions)},
		Filter{Name: "after", Socket: startMilter(t, after, allActions)},
	)
	cl, _ = connect(t, c, "mta")
	cl.mail("alice@example.org")
	v := cl.rcpt("bob@example.test")
	refusedWith(t, "rcpt", v, 550)
	if !strings.Contains(v.Rule, "rejecter") {
		t.Errorf("rule %q", v.Rule)
	}
	for _, e := range after.seen() {
		if strings.HasPrefix(e, "rcpt") {
			t.Errorf("the second milter saw %q after the first rejected", e)
		}
	}
}

func TestListeners(t *testing.T) {
	tm := &testMilter{}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions), Listeners: []string{"submission"}})
	cl, _ := connect(t, c, "mta")
	cl.helo("x.example.org")
	cl.transaction(testMsg)
	if got := tm.seen(); len(got) != 0 {
		t.Errorf("a submission-only milter saw mta traffic: %q", got)
	}
	cl, _ = connect(t, c, "submission")
	cl.helo("x.example.org")
	if got := tm.seen(); len(got) != 2 {
		t.Errorf("the submission milter saw %q", got)
	}
}

func TestAbortBetweenTransactions(t *testing.T) {
	tm := &testMilter{}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
	cl, _ := connect(t, c, "mta")
	cl.mail("alice@example.org")
	cl.rcpt("bob@example.test")
	// RSET: the next MAIL first aborts the unfinished message.
	if v := cl.mail("carol@example.org"); v != nil {
		t.Fatal(v)
	}
	got := strings.Join(tm.seen(), "|")
	if !strings.Contains(got, "rcpt bob@example.test|abort|mail carol@example.org") {
		t.Errorf("milter saw %q", got)
	}
}

func TestUnixSocket(t *testing.T) {
	tm := &testMilter{on: map[string]handler{"eom": func(m *gomilter.Modifier) (gomilter.Response, error) {
		return gomilter.RespAccept, m.AddHeader("X-Unix", "yes")
	}}}
	path := filepath.Join(t.TempDir(), "milter.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &gomilter.Server{NewMilter: func() gomilter.Milter { return session{tm} }, Actions: allActions}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	sock, err := spec.ParseSocket("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	c := newChecker(Filter{Socket: sock})
	if c.filters[0].Name != "unix:"+path {
		t.Errorf("default name %q", c.filters[0].Name)
	}
	cl, _ := connect(t, c, "mta")
	v, msg := cl.transaction(testMsg)
	if v != nil || !strings.Contains(msg, "\r\nX-Unix: yes\r\n\r\n") {
		t.Fatalf("verdict %+v, message\n%s", v, msg)
	}
}

func TestIPv6Client(t *testing.T) {
	tm := &testMilter{}
	c := newChecker(Filter{Socket: startMilter(t, tm, allActions)})
	conn := &inbound.Conn{ID: "c6", Remote: netip.MustParseAddrPort("[::1]:41000"), Local: netip.MustParseAddrPort("[::1]:25"),
		Listener: "mta", Values: map[any]any{}, ClientName: "localhost"}
	if v := c.CheckConnect(context.Background(), conn); v != nil {
		t.Fatal(v)
	}
	c.Closed(conn)
	if got := tm.seen(); len(got) == 0 || got[0] != "connect localhost tcp6 ::1" {
		t.Errorf("milter saw %q", got)
	}
	if tm.macro("connect", "{client_name}") != "localhost" || tm.macro("connect", "{client_resolve}") != "OK" {
		t.Errorf("macros %v", tm.macros["connect"])
	}
}
