package testpeer

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserForm checks what the console tests rely on: chromium fills
// and posts a form to a plain-HTTP loopback server, keeps a Secure,
// HttpOnly, SameSite=Strict cookie set over it (loopback is a secure
// context), and takes a screenshot.
func TestBrowserForm(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "v1", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		fmt.Fprint(w, `<html><body><form method="post" action="/post"><input name="q" id="q"><button id="go">Go</button></form></body></html>`)
	})
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("s")
		cookie := "none"
		if err == nil {
			cookie = c.Value
		}
		fmt.Fprintf(w, `<html><body><p id="out">%s cookie=%s</p></body></html>`, r.FormValue("q"), cookie)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := StartBrowser(t)
	b.Do(t,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.SendKeys("#q", "hello"),
		chromedp.Click("#go"),
		chromedp.WaitVisible("#out"),
	)
	if got := BrowserRun(t, b, chromedp.Text("#out")); got != "hello cookie=v1" {
		t.Fatalf("page says %q, want %q", got, "hello cookie=v1")
	}
	path := b.Screenshot(t, "form")
	if fi, err := os.Stat(path); err != nil || fi.Size() < 1000 {
		t.Fatalf("screenshot %s: %v", path, err)
	}
}
