package console

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"postern/internal/changelog"
	"postern/internal/dmarcreport"
)

// Every page, with hostile text in every field that comes from mail or
// from files, shows it escaped: no element or attribute of its own, no
// RTL override left to reorder the page, no raw control character.
func TestHostileDataEscaped(t *testing.T) {
	hist := &memHistory{m: map[string]float64{"accepted": 3, "delivered": 2}}
	var changes memChanges
	for i, h := range hostile {
		hist.m["outbound:"+h] = float64(i + 1)
		hist.m["threshold:"+h] = 10
		changes = append(changes, changelog.Entry{N: i + 1, Time: time.Now().Add(-time.Duration(i) * 48 * time.Hour),
			File: "/etc/postern/" + h, Who: h, Kind: h, Applied: i%2 == 0, Check: h + "\n" + h, Diff: "--- a\n+++ b\n@@ -1 +1 @@\n-" + h + "\n+" + h + "\n"})
	}
	dmarcDir := t.TempDir()
	saveHostileReports(t, dmarcDir)
	markSent(t, dmarcDir)
	f := newFixture(t, func(o *Options) {
		o.DMARCDir = dmarcDir
		o.History = hist
		o.Changes = changes
		o.Alerts = func() []string { return hostile }
		o.Problems = func() []string { return hostile }
	})
	for _, h := range hostile {
		f.queue(t, h+"@example.test", []string{h + "@example.org", "b@example.org"},
			"Subject: "+strings.ReplaceAll(h, "\r\n", "\r\n ")+"\r\nX-Hostile: "+hostileAll+"\r\nFrom: =?utf-8?q?=E2=80=AE=3Cscript=3E?= <a@b>\r\n")
	}
	ck, _ := f.login(t, "admin@example.test", "right")
	targets := []string{"/console/", "/console/queue", "/console/queue?q=" + "script", "/console/changes", "/console/dmarc"}
	for i, id := range f.ids {
		targets = append(targets, "/console/queue/"+id, "/console/queue/"+id+"?do=hold", fmt.Sprintf("/console/changes/%d", i+1))
	}
	for _, target := range targets {
		w := f.do("GET", target, nil, ck, "")
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d", target, w.Code)
			continue
		}
		checkHostile(t, target, w.Body.String())
	}
	if w := f.do("GET", "/console/dmarc", nil, ck, ""); !strings.Contains(w.Body.String(), dmarcreport.CauseForwarding) ||
		!strings.Contains(w.Body.String(), "evil[U&#43;202E]gpj.exe") || !strings.Contains(w.Body.String(), "5 report(s)") ||
		!strings.Contains(w.Body.String(), "not complete yet") {
		t.Errorf("DMARC page: %s", w.Body)
	}
	// CR LF in an address is shown, not obeyed.
	w := f.do("GET", "/console/queue", nil, ck, "")
	if !strings.Contains(w.Body.String(), `line\r\nInjected: yes@example.test`) {
		t.Errorf("CR LF not made visible: %s", w.Body)
	}
}

// allowed are the elements the console's templates and plots use.
var allowed = map[string]bool{
	"html": true, "head": true, "body": true, "meta": true, "title": true, "link": true, "header": true, "nav": true,
	"main": true, "h1": true, "h2": true, "p": true, "a": true, "form": true, "input": true, "button": true, "span": true,
	"strong": true, "label": true, "table": true, "tr": true, "th": true, "td": true, "tbody": true, "pre": true, "br": true,
	"ul": true, "li": true, "div": true, "code": true,
	"svg": true, "text": true, "line": true, "rect": true, "polyline": true,
}

func checkHostile(t *testing.T, target, page string) {
	t.Helper()
	if strings.ContainsAny(page, "\u202e\r") || strings.Contains(page, "\xff") {
		t.Errorf("%s: an RTL override, a CR or a raw 8-bit byte is on the page", target)
	}
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if !allowed[n.Data] {
				t.Errorf("%s: element <%s> injected", target, n.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Key == "src" || strings.Contains(a.Val, "javascript:") {
					t.Errorf("%s: attribute %s=%q injected on <%s>", target, a.Key, a.Val, n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

func TestEveryPageRenders(t *testing.T) {
	// No history, no change log: the pages say so.
	f := newFixture(t, nil)
	id := f.queue(t, "", []string{"b@example.test"}, "Subject: plain\r\n")
	ck, _ := f.login(t, "admin@example.test", "right")
	for target, want := range map[string]string{
		"/console/":                          "no history yet",
		"/console/queue":                     "plain",
		"/console/queue/" + id:               "the null sender",
		"/console/queue/" + id + "?do=retry": "tried at once",
		"/console/changes":                   "not kept by this server",
		"/console/login":                     "grant-admin",
	} {
		w := f.do("GET", target, nil, ck, "")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d, want %q in %s", target, w.Code, want, w.Body)
		}
	}
	if w := f.do("GET", "/console/changes/1", nil, ck, ""); w.Code != http.StatusNotFound {
		t.Errorf("change without a log: %d", w.Code)
	}
}

// saveHostileReports stores aggregate reports whose organisation,
// domains, addresses and report ids are hostile text.
func saveHostileReports(t *testing.T, dir string) {
	store := dmarcreport.ReceivedStore{Dir: filepath.Join(dir, "received")}
	for i, h := range hostile {
		f := &dmarcreport.Feedback{
			Metadata: dmarcreport.ReportMetadata{OrgName: h, Email: h, ReportID: h + strconv.Itoa(i),
				DateRange: dmarcreport.DateRange{Begin: dmarcreport.Int(time.Now().Add(-48 * time.Hour).Unix()), End: dmarcreport.Int(time.Now().Unix())}},
			Policy: dmarcreport.PolicyPublished{Domain: h + ".example"},
			Records: []dmarcreport.Record{{
				Row:         dmarcreport.Row{SourceIP: h, Count: 3, PolicyEvaluated: dmarcreport.PolicyEvaluated{DKIM: "fail", SPF: "fail"}},
				Identifiers: dmarcreport.Identifiers{HeaderFrom: h, EnvelopeFrom: h},
				AuthResults: dmarcreport.AuthResults{DKIM: []dmarcreport.DKIMReport{{Domain: h, Result: "fail"}}, SPF: []dmarcreport.SPFReport{{Domain: h, Result: "fail"}}},
			}},
		}
		if _, _, err := store.Save(f); err != nil {
			t.Fatal(err)
		}
	}
}

// markSent records one aggregate report sent yesterday, as the sender
// does.
func markSent(t *testing.T, dir string) {
	b, err := dmarcreport.NewFileBackend(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	key := fmt.Sprintf("aggregate-%d-%d.sent-0123456789abcdef01234567", day.Unix(), day.Add(24*time.Hour).Unix())
	if _, err := b.Claim(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

// Large counts are shown whole.
func TestOverviewCounts(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.History = &memHistory{m: map[string]float64{"accepted": 1e6}} })
	ck, _ := f.login(t, "admin@example.test", "right")
	body := f.do("GET", "/console/", nil, ck, "").Body.String()
	if strings.Contains(body, "e+0") || !strings.Contains(body, "<td class=\"n\">90000000</td>") {
		t.Errorf("counts: %s", body)
	}
}
