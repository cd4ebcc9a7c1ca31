package console

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"postern/internal/inbound"
	"postern/internal/smtpd"
)

func TestLogin(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do("POST", "/console/login", url.Values{"user": {"Admin@example.test"}, "password": {"right"}}, nil, "192.0.2.1:1000")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/" {
		t.Fatalf("good login: %d %v", w.Code, w.Header())
	}
	set := w.Header().Get("Set-Cookie")
	for _, flag := range []string{"Path=/console/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(set, flag) {
			t.Errorf("cookie %q lacks %s", set, flag)
		}
	}
	if v := w.Result().Cookies()[0].Value; len(v) < 43 {
		t.Errorf("session id %q is shorter than 256 bits", v)
	}
	if !strings.Contains(f.log.String(), "console login") || !strings.Contains(f.log.String(), "user=admin@example.test") {
		t.Errorf("login not logged: %s", f.log)
	}
	// Wrong password, a user without the admin role, nobody: one answer.
	for _, try := range [][2]string{{"admin@example.test", "wrong"}, {"user@example.test", "right"}, {"nobody@example.test", "right"}} {
		w := f.do("POST", "/console/login", url.Values{"user": {try[0]}, "password": {try[1]}}, nil, "198.51.100."+strconv.Itoa(len(try[0]))+":1")
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), loginFailed) || w.Header().Get("Set-Cookie") != "" {
			t.Errorf("%v: %d %s", try, w.Code, w.Body)
		}
	}
	// Without a session every page leads to the login, and a POST is
	// refused.
	if w := f.do("GET", "/console/queue", nil, nil, ""); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/login" {
		t.Errorf("queue without a session: %d", w.Code)
	}
	if w := f.do("POST", "/console/logout", url.Values{}, nil, ""); w.Code != http.StatusForbidden {
		t.Errorf("logout without a session: %d", w.Code)
	}
	if w := f.do("GET", "/console/", nil, &http.Cookie{Name: cookieName, Value: "guessed"}, ""); w.Code != http.StatusSeeOther {
		t.Errorf("made-up session: %d", w.Code)
	}
}

func TestLogoutEndsSession(t *testing.T) {
	f := newFixture(t, nil)
	ck, csrf := f.login(t, "admin@example.test", "right")
	if w := f.do("POST", "/console/logout", url.Values{"csrf": {csrf}}, ck, ""); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if w := f.do("GET", "/console/", nil, ck, ""); w.Code != http.StatusSeeOther {
		t.Errorf("session lives on after logout: %d", w.Code)
	}
}

// Console and AUTH failures count toward one lock-out, and a locked-out
// client cannot log in even with the right password.
func TestLoginLockoutSharedWithAuth(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	c := &inbound.Conn{Remote: netip.MustParseAddrPort("192.0.2.9:4000"), Listener: "submission", Mode: smtpd.ModeSubmission}
	for i := 0; i < 2; i++ {
		if v := f.lim.CheckAuth(ctx, c, "u", true, false); v != nil {
			t.Fatalf("AUTH failure %d: %+v", i, v)
		}
	}
	w := f.do("POST", "/console/login", url.Values{"user": {"admin@example.test"}, "password": {"wrong"}}, nil, "192.0.2.9:1")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "too many failed logins") {
		t.Fatalf("third failure: %d %s", w.Code, w.Body)
	}
	w = f.do("POST", "/console/login", url.Values{"user": {"admin@example.test"}, "password": {"right"}}, nil, "192.0.2.9:1")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("right password while locked out: %d %s", w.Code, w.Body)
	}
	// The other way: console failures lock AUTH out.
	for i := 0; i < 3; i++ {
		f.do("POST", "/console/login", url.Values{"user": {"x@example.test"}, "password": {"wrong"}}, nil, "192.0.2.10:1")
	}
	c2 := &inbound.Conn{Remote: netip.MustParseAddrPort("192.0.2.10:4000"), Listener: "submission", Mode: smtpd.ModeSubmission}
	if v := f.lim.CheckAuth(ctx, c2, "u", false, false); v == nil || v.Reply.Code != 454 {
		t.Fatalf("AUTH after console failures: %+v", v)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, nil)
	id := f.queue(t, "a@example.test", []string{"b@example.test"}, "Subject: hi\r\n")
	ck, csrf := f.login(t, "admin@example.test", "right")
	for name, form := range map[string]url.Values{
		"no token":    {"action": {"hold"}},
		"wrong token": {"action": {"hold"}, "csrf": {csrf[:len(csrf)-1] + "x"}},
		"empty token": {"action": {"hold"}, "csrf": {""}},
	} {
		if w := f.do("POST", "/console/queue/"+id, form, ck, ""); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d", name, w.Code)
		}
	}
	if items := f.sp.Items(); items[0].Held {
		t.Fatal("held without a token")
	}
	if w := f.do("POST", "/console/queue/"+id, url.Values{"action": {"hold"}, "csrf": {csrf}}, ck, ""); w.Code != http.StatusOK {
		t.Fatalf("with the token: %d %s", w.Code, w.Body)
	}
	if items := f.sp.Items(); !items[0].Held {
		t.Fatal("not held")
	}
	// A GET never changes anything.
	if w := f.do("GET", "/console/queue/"+id+"?do=release&csrf="+csrf, nil, ck, ""); w.Code != http.StatusOK || !f.sp.Items()[0].Held {
		t.Fatalf("GET released: %d", w.Code)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	f := newFixture(t, nil)
	id := f.queue(t, "a@example.test", []string{"b@example.test"}, "Subject: hi\r\n")
	ck, csrf := f.login(t, "admin@example.test", "right")
	r := httpRequest("POST", "/console/queue/"+id, url.Values{"action": {"hold"}, "csrf": {csrf}}, ck)
	r.Header.Set("Origin", "https://evil.example")
	w := serve(f.c, r)
	if w.Code != http.StatusForbidden || f.sp.Items()[0].Held {
		t.Fatalf("cross-origin POST: %d", w.Code)
	}
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "null"},
	} {
		r := httpRequest("POST", "/console/queue/"+id, url.Values{"action": {"hold"}, "csrf": {csrf}}, ck)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		if w := serve(f.c, r); w.Code != http.StatusForbidden || f.sp.Items()[0].Held {
			t.Fatalf("POST with %v: %d", h, w.Code)
		}
	}
	// The browser's own form: Sec-Fetch-Site same-origin, even with an
	// opaque Origin.
	r = httpRequest("POST", "/console/queue/"+id, url.Values{"action": {"hold"}, "csrf": {csrf}}, ck)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Origin", "null")
	if w := serve(f.c, r); w.Code != http.StatusOK || !f.sp.Items()[0].Held {
		t.Fatalf("same-origin POST: %d", w.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, nil)
	ck, _ := f.login(t, "admin@example.test", "right")
	for _, target := range []string{"/console/login", "/console/", "/console/queue", "/console/changes", "/console/style.css", "/console/nothing"} {
		w := f.do("GET", target, nil, ck, "")
		h := w.Header()
		if h.Get("Content-Security-Policy") != CSP || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", target, h)
		}
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(CSP, want) || strings.Contains(CSP, "unsafe") || strings.Contains(CSP, "script-src") {
			t.Errorf("CSP %q", CSP)
		}
	}
}

func TestQueueActions(t *testing.T) {
	f := newFixture(t, nil)
	id := f.queue(t, "a@example.test", []string{"b@example.test"}, "Subject: hi\r\n")
	ck, csrf := f.login(t, "admin@example.test", "right")
	w := f.do("GET", "/console/queue/"+id+"?do=delete", nil, ck, "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "cannot be undone") || !strings.Contains(w.Body.String(), `name="csrf"`) {
		t.Fatalf("confirmation: %d %s", w.Code, w.Body)
	}
	for _, a := range []string{"hold", "release", "retry", "delete"} {
		w := f.do("POST", "/console/queue/"+id, url.Values{"action": {a}, "csrf": {csrf}}, ck, "")
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", a, w.Code, w.Body)
		}
		if !strings.Contains(f.log.String(), "user=admin@example.test") {
			t.Errorf("%s not logged with the user: %s", a, f.log)
		}
	}
	for _, want := range []string{`request="hold ` + id, `request="release ` + id, `request="flush ` + id, `request="remove ` + id} {
		if !strings.Contains(f.log.String(), want) {
			t.Errorf("log lacks %s: %s", want, f.log)
		}
	}
	if len(f.sp.Items()) != 0 {
		t.Error("not deleted")
	}
	if w := f.do("GET", "/console/queue/"+id, nil, ck, ""); w.Code != http.StatusNotFound {
		t.Errorf("deleted message: %d", w.Code)
	}
	if w := f.do("POST", "/console/queue/"+id, url.Values{"action": {"frob"}, "csrf": {csrf}}, ck, ""); w.Code != http.StatusBadRequest {
		t.Errorf("unknown action: %d", w.Code)
	}
}

func TestQueueSearchAndPages(t *testing.T) {
	f := newFixture(t, nil)
	for i := 0; i < PageSize+5; i++ {
		f.queue(t, "bulk@example.test", []string{"r@example.test"}, "Subject: bulk\r\n")
	}
	f.queue(t, "x@example.test", []string{"needle@example.org"}, "Subject: =?utf-8?q?caf=C3=A9?= special\r\n")
	ck, _ := f.login(t, "admin@example.test", "right")
	for q, want := range map[string]string{"needle@": "1 of 56", "CAFÉ": "1 of 56", f.ids[3]: "1 of 56", "bulk": "55 of 56 message(s), page 1 of 2", "nothing": "0 of 56"} {
		w := f.do("GET", "/console/queue?q="+url.QueryEscape(q), nil, ck, "")
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("search %q: want %q in %s", q, want, w.Body)
		}
	}
	w := f.do("GET", "/console/queue?page=2", nil, ck, "")
	if !strings.Contains(w.Body.String(), "page 2 of 2") || strings.Count(w.Body.String(), "<tr>") != 1+6 {
		t.Errorf("page 2: %s", w.Body)
	}
}

func TestListenerTLS(t *testing.T) {
	server := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"smtp"}}
	if ListenerTLS(false, server) != nil {
		t.Error("TLS without [admin] tls")
	}
	c := ListenerTLS(true, server)
	if c == nil || c.NextProtos[0] != "http/1.1" || server.NextProtos[0] != "smtp" {
		t.Errorf("%+v", c)
	}
	if c := ListenerTLS(true, nil); c == nil || len(c.Certificates) != 0 {
		t.Error("no certificate: not failing closed")
	}
}

// downUsers are users nobody could read (a users table past its stale
// period).
type downUsers struct{ Users }

func (downUsers) UnavailableText() string { return "users table t: connection refused" }

// With the users unknown, a login waits (503) and counts no failure.
func TestLoginUsersUnavailable(t *testing.T) {
	f := newFixture(t, nil)
	f.c.o.Users = downUsers{f.c.o.Users}
	for range 8 {
		w := f.do("POST", "/console/login", url.Values{"user": {"admin@example.test"}, "password": {"right"}}, nil, "192.0.2.1:1000")
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "cannot be read now") || w.Header().Get("Set-Cookie") != "" {
			t.Fatalf("login with the users down: %d %s", w.Code, w.Body)
		}
	}
	if err := f.lim.LoginLocked(context.Background(), netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("logins while the users were down counted toward the lock-out: %v", err)
	}
}
