package smtpd

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/smtp"
)

// recorder is a Session that accepts everything and records messages.
type recorder struct {
	mu       sync.Mutex
	messages []string
	froms    []string
	rcpts    [][]string
	resets   int
	cur      []string
	from     string
	user     string
}

type recBackend struct{ rec *recorder }

func (b recBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	return &recSession{rec: b.rec}, nil
}

type recSession struct {
	rec  *recorder
	from string
	to   []string
}

func (s *recSession) Hello(ctx context.Context, name string, ext bool) *smtp.Reply { return nil }
func (s *recSession) TLS(cs tls.ConnectionState)                                   {}
func (s *recSession) Auth(ctx context.Context, user, pass string) *smtp.Reply {
	if user == "alice@example.test" && pass == "secret" {
		return nil
	}
	return &smtp.Reply{Code: 535, Enhanced: "5.7.8", Text: "authentication credentials invalid"}
}
func (s *recSession) Mail(ctx context.Context, from smtp.Path, p smtp.Params) *smtp.Reply {
	s.from, s.to = from.String(), nil
	return nil
}
func (s *recSession) Rcpt(ctx context.Context, to smtp.Path, p smtp.Params) *smtp.Reply {
	if strings.HasPrefix(to.Local, "reject421") {
		return &smtp.Reply{Code: 421, Enhanced: "4.7.0", Text: "go away"}
	}
	if strings.HasPrefix(to.Local, "reject") {
		return smtp.ReplyRelayDenied
	}
	s.to = append(s.to, to.String())
	return nil
}
func (s *recSession) Data(ctx context.Context, r io.Reader) *smtp.Reply {
	b, err := io.ReadAll(r)
	if err != nil {
		if rep, ok := err.(*smtp.Reply); ok {
			return rep
		}
		return smtp.ReplyTempFailure
	}
	s.rec.mu.Lock()
	s.rec.messages = append(s.rec.messages, string(b))
	s.rec.froms = append(s.rec.froms, s.from)
	s.rec.rcpts = append(s.rec.rcpts, s.to)
	s.rec.mu.Unlock()
	return &smtp.Reply{Code: 250, Enhanced: "2.0.0", Text: "OK: queued"}
}
func (s *recSession) Reset() { s.rec.mu.Lock(); s.rec.resets++; s.rec.mu.Unlock() }
func (s *recSession) Close() {}

func (r *recorder) msgs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

func testTLSConfig(t testing.TB) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.test"},
		DNSNames: []string{"mx.example.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

type testServer struct {
	srv  *Server
	rec  *recorder
	addr map[Mode]string
}

func startServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	rec := &recorder{}
	if opts.Hostname == "" {
		opts.Hostname = "mx.example.test"
	}
	if opts.TLS == nil {
		opts.TLS = testTLSConfig(t)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(recBackend{rec}, log, opts)
	ts := &testServer{srv: srv, rec: rec, addr: map[Mode]string{}}
	for _, m := range []Mode{ModeMTA, ModeSubmission, ModeSMTPS} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ts.addr[m] = ln.Addr().String()
		go srv.Serve(ln, Listener{Mode: m})
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ts
}

// client is a raw SMTP client for tests: it sends exact bytes.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	c.expect(220)
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads one (possibly multi-line) reply.
func (c *client) reply() (int, string) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var text []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %v (got %q)", err, text)
		}
		if len(line) < 4 || !strings.HasSuffix(line, "\r\n") {
			c.t.Fatalf("bad reply line %q", line)
		}
		var code int
		fmt.Sscanf(line[:3], "%d", &code)
		text = append(text, strings.TrimRight(line[4:], "\r\n"))
		if line[3] == ' ' {
			return code, strings.Join(text, "\n")
		}
	}
}

func (c *client) expect(code int) string {
	c.t.Helper()
	got, text := c.reply()
	if got != code {
		c.t.Fatalf("got %d %q, want %d", got, text, code)
	}
	return text
}

func (c *client) cmd(line string, code int) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(code)
}

func (c *client) startTLS() {
	c.t.Helper()
	c.cmd("STARTTLS", 220)
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.nc = tc
	c.r = bufio.NewReader(tc)
}

func (c *client) closed() bool {
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.r.ReadByte()
	return err != nil
}

func TestGreetingAndEHLO(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	ext := c.cmd("EHLO client.example", 250)
	for _, want := range []string{"PIPELINING", "SIZE 36700160", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "STARTTLS"} {
		if !strings.Contains(ext, want) {
			t.Errorf("EHLO lacks %s: %q", want, ext)
		}
	}
	if strings.Contains(ext, "AUTH") || strings.Contains(ext, "REQUIRETLS") {
		t.Errorf("mta listener offers AUTH or REQUIRETLS in plaintext: %q", ext)
	}
	c.cmd("MAIL FROM:<a@example.org> REQUIRETLS", 555)
	c.cmd("RSET", 250)
	c.startTLS()
	ext = c.cmd("EHLO client.example", 250)
	if strings.Contains(ext, "AUTH") || strings.Contains(ext, "STARTTLS") || !strings.Contains(ext, "REQUIRETLS") {
		t.Errorf("mta listener after TLS: %q", ext)
	}
	c.cmd("MAIL FROM:<a@example.org> REQUIRETLS", 250)
	c.cmd("RSET", 250)
	c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 503)
}

func TestSubmissionNeedsTLSThenAuth(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeSubmission])
	ext := c.cmd("EHLO client.example", 250)
	if strings.Contains(ext, "AUTH") {
		t.Fatalf("AUTH offered before TLS: %q", ext)
	}
	c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 538)
	c.cmd("MAIL FROM:<alice@example.test>", 530)
	c.startTLS()
	c.cmd("MAIL FROM:<alice@example.test>", 503) // EHLO again first
	ext = c.cmd("EHLO client.example", 250)
	if !strings.Contains(ext, "AUTH PLAIN LOGIN") {
		t.Fatalf("no AUTH after TLS: %q", ext)
	}
	c.cmd("MAIL FROM:<alice@example.test>", 530)
	c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==", 535)
	c.cmd("AUTH LOGIN", 334)
	c.cmd("YWxpY2VAZXhhbXBsZS50ZXN0", 334)
	c.cmd("c2VjcmV0", 235)
	c.cmd("MAIL FROM:<alice@example.test>", 250)
	c.cmd("RCPT TO:<bob@elsewhere.test>", 250)
	c.cmd("DATA", 354)
	c.cmd("Subject: hi\r\n\r\nhello\r\n.", 250)
	c.cmd("QUIT", 221)
}

func TestSMTPSImplicitTLS(t *testing.T) {
	ts := startServer(t, Options{})
	nc, err := tls.Dial("tcp", ts.addr[ModeSMTPS], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	c.expect(220)
	ext := c.cmd("EHLO client.example", 250)
	if !strings.Contains(ext, "AUTH PLAIN LOGIN") || strings.Contains(ext, "STARTTLS") {
		t.Fatalf("smtps EHLO: %q", ext)
	}
	c.cmd("AUTH PLAIN", 334)
	c.cmd("AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 235)
}

func TestAuthPlaintextRefusedEverywhere(t *testing.T) {
	ts := startServer(t, Options{})
	for _, m := range []Mode{ModeMTA, ModeSubmission} {
		c := dial(t, ts.addr[m])
		c.cmd("EHLO client.example", 250)
		c.cmd("AUTH LOGIN", 538)
		c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 538)
	}
}

func TestPipelining(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	c.cmd("EHLO client.example", 250)
	c.send("MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<reject@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n")
	c.expect(250)
	c.expect(250)
	c.expect(550)
	c.expect(250)
	c.expect(354)
	c.send("Subject: x\r\n\r\n..dot\r\n.\r\nRSET\r\n")
	c.expect(250)
	c.expect(250)
	m := ts.rec.msgs()
	if len(m) != 1 || m[0] != "Subject: x\r\n\r\n.dot\r\n" {
		t.Fatalf("messages %q", m)
	}
}

// TestSmugglingLookalikes sends every lookalike end-of-data sequence with
// a second message behind it: the server must never see two messages.
func TestSmugglingLookalikes(t *testing.T) {
	endings := []string{"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\n", "\n.\r", "\r.\r\n", "\r\n.\r", "\r\n\x00.\r\n", "\r\n.\x00\r\n", "\r\n.\r\r\n", "\r\n..\n", "\r\n.\n\r\n"}
	for _, end := range endings {
		t.Run(fmt.Sprintf("%q", end), func(t *testing.T) {
			ts := startServer(t, Options{})
			c := dial(t, ts.addr[ModeMTA])
			c.cmd("EHLO client.example", 250)
			c.cmd("MAIL FROM:<a@example.test>", 250)
			c.cmd("RCPT TO:<b@example.test>", 250)
			c.cmd("DATA", 354)
			c.send("Subject: one\r\n\r\nbody" + end + "MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
			code, text := c.reply()
			c.cmd("NOOP", 250) // in step: nothing else pending
			msgs := ts.rec.msgs()
			if len(msgs) > 1 {
				t.Fatalf("smuggled a second message: %q", msgs)
			}
			if code == 250 {
				if len(msgs) != 1 || !strings.Contains(msgs[0], "smuggled") {
					t.Fatalf("accepted, but not as one message: %q", msgs)
				}
			} else if code < 500 {
				t.Fatalf("got %d %s, want a 5xx or one message", code, text)
			}
		})
	}
}

func TestStartTLSInjectionDiscarded(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	c.cmd("EHLO client.example", 250)
	c.send("STARTTLS\r\nMAIL FROM:<injected@example.test>\r\n")
	c.expect(220)
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	// Had the injected MAIL been read, this EHLO would get its reply first,
	// and RCPT would be accepted without a MAIL of our own.
	c.cmd("EHLO client.example", 250)
	c.cmd("RCPT TO:<b@example.test>", 503)
}

func TestBDAT(t *testing.T) {
	ts := startServer(t, Options{Chunking: true})
	c := dial(t, ts.addr[ModeMTA])
	if ext := c.cmd("EHLO client.example", 250); !strings.Contains(ext, "CHUNKING") {
		t.Fatal("no CHUNKING")
	}
	c.cmd("MAIL FROM:<a@example.test>", 250)
	c.cmd("RCPT TO:<b@example.test>", 250)
	c.send("BDAT 10\r\nSubject: x")
	c.expect(250)
	c.send("BDAT 8 LAST\r\n\r\n\r\nbody")
	c.expect(250)
	m := ts.rec.msgs()
	if len(m) != 1 || m[0] != "Subject: x\r\n\r\nbody\r\n" {
		t.Fatalf("messages %q", m)
	}
	// A chunk with a bare LF is refused after the whole transfer.
	c.cmd("MAIL FROM:<a@example.test>", 250)
	c.cmd("RCPT TO:<b@example.test>", 250)
	c.send("BDAT 5 LAST\r\na\nb\r\n")
	c.expect(550)
	// A BDAT whose size cannot be read closes the connection: its payload
	// must not be taken for commands.
	c.cmd("MAIL FROM:<a@example.test>", 250)
	c.cmd("RCPT TO:<b@example.test>", 250)
	c.send("BDAT +5 LAST\r\nQUIT\r\n")
	c.expect(501)
	if !c.closed() {
		t.Fatal("connection still open after a bad BDAT")
	}
	if n := len(ts.rec.msgs()); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

func TestBDATNotOffered(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	c.cmd("EHLO client.example", 250)
	c.cmd("MAIL FROM:<a@example.test>", 250)
	c.cmd("RCPT TO:<b@example.test>", 250)
	c.send("BDAT 6 LAST\r\nRSET\r\n")
	c.expect(502)
	if !c.closed() {
		t.Fatal("connection still open")
	}
}

func TestLimits(t *testing.T) {
	ts := startServer(t, Options{MaxRecipients: 2, MaxMessageBytes: 100, MaxErrors: 5})
	c := dial(t, ts.addr[ModeMTA])
	c.cmd("EHLO client.example", 250)
	c.cmd("MAIL FROM:<a@example.test> SIZE=101", 552)
	c.cmd("MAIL FROM:<a@example.test> SIZE=100", 250)
	c.cmd("RCPT TO:<b@example.test>", 250)
	c.cmd("RCPT TO:<c@example.test>", 250)
	c.cmd("RCPT TO:<d@example.test>", 452)
	c.cmd("DATA", 354)
	c.cmd(strings.Repeat("x", 200)+"\r\n.", 552)
	c.cmd("NOOP "+strings.Repeat("y", 3000), 500)
	c.cmd("BOGUS", 500)
	// Five errors so far: the fifth closes the connection.
	c.send("BOGUS\r\n")
	c.expect(421)
	if !c.closed() {
		t.Fatal("connection still open after too many errors")
	}
}

func TestBareLFCommand(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	c.send("EHLO client.example\n")
	c.expect(500)
	c.cmd("EHLO client.example", 250)
}

func TestVRFYAndEXPNRevealNothing(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	c.cmd("EHLO client.example", 250)
	c.cmd("VRFY root", 252)
	c.cmd("EXPN staff", 502)
	c.cmd("GET / HTTP/1.0", 421)
}

func TestCommandTimeout(t *testing.T) {
	ts := startServer(t, Options{CommandTimeout: 200 * time.Millisecond})
	c := dial(t, ts.addr[ModeMTA])
	code, _ := c.reply()
	if code != 421 {
		t.Fatalf("got %d, want 421 on timeout", code)
	}
}

func TestShutdownClosesIdle(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	c.cmd("EHLO client.example", 250)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	go ts.srv.Shutdown(ctx)
	code, _ := c.reply()
	if code != 421 {
		t.Fatalf("got %d, want 421", code)
	}
}

// pausing wraps the recorder's sessions with a greet pause.
type pausingBackend struct{ rec *recorder }

type pausingSession struct{ recSession }

func (b pausingBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	return &pausingSession{recSession{rec: b.rec}}, nil
}
func (s *pausingSession) GreetPause() time.Duration { return 300 * time.Millisecond }
func (s *pausingSession) EarlyTalker() *smtp.Reply {
	return &smtp.Reply{Code: 554, Enhanced: "5.5.0", Text: "protocol error: talked before the greeting"}
}

func TestGreetPauseEarlyTalker(t *testing.T) {
	srv := New(pausingBackend{&recorder{}}, slog.New(slog.DiscardHandler), Options{Hostname: "mx.example.test"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln, Listener{Mode: ModeMTA})
	defer srv.Shutdown(context.Background())

	// A patient client gets the greeting.
	c := dial(t, ln.Addr().String())
	c.cmd("EHLO client.example", 250)

	// A client that talks at once is refused.
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "EHLO spammer.example\r\n")
	early := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	if code, _ := early.reply(); code != 554 {
		t.Fatalf("early talker got %d", code)
	}
	if !early.closed() {
		t.Fatal("early talker still connected")
	}
}

// A 421 from the session at any stage ends the connection.
func TestSession421Closes(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr[ModeMTA])
	c.cmd("EHLO client.example", 250)
	c.cmd("MAIL FROM:<a@example.test>", 250)
	c.cmd("RCPT TO:<reject421@example.test>", 421)
	if !c.closed() {
		t.Fatal("connection still open after 421")
	}
}

// uidBackend records the ConnInfo of each connection.
type uidBackend struct {
	recBackend
	infos chan ConnInfo
}

func (b uidBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	b.infos <- c
	return b.recBackend.NewSession(ctx, c)
}

func TestLocalModeUnixSocket(t *testing.T) {
	rec := &recorder{}
	b := uidBackend{recBackend{rec}, make(chan ConnInfo, 4)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(b, log, Options{Hostname: "mx.example.test", TLS: testTLSConfig(t)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	sock := t.TempDir() + "/submit.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln, Listener{Name: "local", Mode: ModeLocal})
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tcp, Listener{Mode: ModeSubmission})

	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	c.expect(220)
	info := <-b.infos
	if info.PeerUID != os.Getuid() || info.Mode != ModeLocal || info.Listener != "local" {
		t.Fatalf("conn info %+v, want PeerUID %d, mode local", info, os.Getuid())
	}
	ext := c.cmd("EHLO localhost", 250)
	if strings.Contains(ext, "STARTTLS") || strings.Contains(ext, "AUTH") {
		t.Fatalf("local EHLO offers TLS or AUTH: %q", ext)
	}
	c.cmd("STARTTLS", 454)
	c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", 503)
	c.cmd("MAIL FROM:<cron@mx.example.test>", 250)
	c.cmd("RCPT TO:<root@example.test>", 250)
	c.cmd("DATA", 354)
	c.cmd("Subject: cron\r\n\r\nhello\r\n.", 250)
	c.cmd("QUIT", 221)
	if m := rec.msgs(); len(m) != 1 || !strings.Contains(m[0], "hello") {
		t.Fatalf("messages %q", m)
	}

	// A TCP connection has no peer uid, and submission still needs AUTH.
	tc := dial(t, tcp.Addr().String())
	if info := <-b.infos; info.PeerUID != -1 {
		t.Fatalf("tcp conn PeerUID %d, want -1", info.PeerUID)
	}
	tc.cmd("EHLO localhost", 250)
	tc.cmd("MAIL FROM:<cron@mx.example.test>", 530)
}
