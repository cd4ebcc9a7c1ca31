package console

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/changelog"
	"postern/internal/envelope"
	"postern/internal/limits"
	"postern/internal/ratelimit"
	"postern/internal/spool"
	"postern/internal/users"
)

// hostile is fed through every page: markup, quotes, an RTL override,
// bytes that are not UTF-8 and CR LF.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"'><img src=x onerror=1>`,
	"evil\u202egpj.exe",
	"8bit \xff\xfe\x80 junk",
	"line\r\nInjected: yes",
}

const hostileAll = `<script>alert(1)</script> "'><img src=x onerror=1> evil` + "\u202e" + `gpj.exe 8bit ` + "\xff\xfe\x80" + ` junk`

// memHistory is a History filled by the test.
type memHistory struct {
	m map[string]float64 // every bucket of a series has this value; read only
}

func (h *memHistory) Series(name string, step time.Duration, n int, now time.Time) []float64 {
	v := h.m[name]
	out := make([]float64, n)
	for i := range out {
		out[i] = v * float64(1+i%7)
	}
	return out
}

func (h *memHistory) Names(prefix string) []string {
	var out []string
	for n := range h.m {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// memChanges is a change log kept by the test.
type memChanges []changelog.Entry

func (c memChanges) List() ([]changelog.Entry, error) { return c, nil }
func (c memChanges) Get(n int) (changelog.Entry, error) {
	for _, e := range c {
		if e.N == n {
			return e, nil
		}
	}
	return changelog.Entry{}, errors.New("no such entry")
}

type idle struct{}

func (idle) Deliver(context.Context, *envelope.Envelope, []envelope.Recipient, io.ReaderAt) []error {
	return nil
}

type fixture struct {
	c     *Console
	users *users.Store
	sp    *spool.Spool
	lim   *limits.Limits
	log   *bytes.Buffer
	ids   []string
}

// newFixture is a console with a real users file (an admin and a user),
// real limits (two failures lock out) and a real spool.
func newFixture(t testing.TB, opt func(*Options)) *fixture {
	dir := t.TempDir()
	st, err := users.Open(filepath.Join(dir, "users"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"admin@example.test", "user@example.test"} {
		if err := st.Add(u, "right"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.GrantAdmin("admin@example.test"); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.New(filepath.Join(dir, "spool"), idle{}, slog.New(slog.DiscardHandler), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	lim := limits.New(limits.Options{Backend: ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		Base: limits.Values{AuthFailuresPerIPPerHour: 3}})
	f := &fixture{users: st, sp: sp, lim: lim, log: &bytes.Buffer{}}
	o := Options{Users: st, Lockout: lim, Queue: sp, SpoolDir: filepath.Join(dir, "spool"),
		Log: slog.New(slog.NewTextHandler(f.log, nil))}
	if opt != nil {
		opt(&o)
	}
	f.c = New(o)
	return f
}

// queue puts a message into the spool.
func (f *fixture) queue(t testing.TB, from string, rcpts []string, header string) string {
	id := f.write(t, from, rcpts, header)
	f.ids = append(f.ids, id)
	return id
}

// queueQuiet is queue for many goroutines at once: the caller keeps the
// ids.
func (f *fixture) queueQuiet(t testing.TB, from, header string) string {
	return f.write(t, from, []string{"r@example.org"}, header)
}

func (f *fixture) write(t testing.TB, from string, rcpts []string, header string) string {
	env := &envelope.Envelope{From: from, Received: time.Now()}
	for _, r := range rcpts {
		env.Rcpts = append(env.Rcpts, envelope.Recipient{Addr: r})
	}
	w, err := f.sp.Create(env)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, header+"\r\nbody\r\n")
	if err := w.Commit(context.Background()); err != nil {
		t.Error(err)
	}
	return env.ID
}

// do sends a request from addr (host:port) with the cookie, if any.
func (f *fixture) do(method, target string, form url.Values, cookie *http.Cookie, addr string) *httptest.ResponseRecorder {
	r := httpRequest(method, target, form, cookie)
	if addr != "" {
		r.RemoteAddr = addr
	}
	return serve(f.c, r)
}

func httpRequest(method, target string, form url.Values, cookie *http.Cookie) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return r
}

func serve(c *Console, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

// login logs in and returns the session cookie and the CSRF token.
func (f *fixture) login(t testing.TB, user, pw string) (*http.Cookie, string) {
	w := f.do("POST", "/console/login", url.Values{"user": {user}, "password": {pw}}, nil, "")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login %s: %d %s", user, w.Code, w.Body)
	}
	ck := w.Result().Cookies()[0]
	page := f.do("GET", "/console/", nil, ck, "")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.Body.String())
	if m == nil {
		t.Fatalf("no CSRF token on the overview: %s", page.Body)
	}
	return ck, m[1]
}
