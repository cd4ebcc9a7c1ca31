package console

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"postern/internal/svgplot"
)

//go:embed templates/*.html templates/style.css
var files embed.FS

// funcs are the templates' helpers. vis makes hostile text visible
// (svgplot.Visible); the template escapes it.
var funcs = template.FuncMap{
	"vis":  svgplot.Visible,
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"lines": func(s string) []string {
		return strings.Split(strings.TrimRight(s, "\r\n"), "\n")
	},
	"visline": func(s string) string { return svgplot.Visible(strings.TrimSuffix(s, "\r")) },
	"list":    func(n ...int) []int { return n },
}

// pages are the templates, each the layout with one page's content.
var pages = func() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html"))
	m := map[string]*template.Template{}
	for _, p := range []string{"login", "overview", "queue", "message", "confirm", "dmarc", "keys", "changes", "change"} {
		t := template.Must(base.Clone())
		m[p] = template.Must(t.ParseFS(files, "templates/"+p+".html"))
	}
	return m
}()

// view is what the layout shows around a page.
type view struct {
	Title string
	Nav   string // the page's name in the menu
	User  string // "" on the login page
	CSRF  string
	Body  any
}

// render writes page p with status code; a template error is a 500, not
// half a page.
func render(w http.ResponseWriter, code int, p string, v view) {
	var b bytes.Buffer
	if err := pages[p].Execute(&b, v); err != nil {
		http.Error(w, "internal error: the page cannot be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

func serveStyle(w http.ResponseWriter, r *http.Request) {
	b, _ := files.ReadFile("templates/style.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(b)
}

// pageView is the view of a logged-in page.
func pageView(s *session, nav, title string, body any) view {
	return view{Title: title, Nav: nav, User: s.user, CSRF: s.csrf, Body: body}
}
