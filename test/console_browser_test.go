package test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// hostileSubject is what a spammer might put in a subject to attack the
// console: markup, quotes and a right-to-left override.
const hostileSubject = "<script>alert(1)</script> \"quoted\" <img src=x onerror=alert(2)> \u202eevil"

// TestConsoleBrowser drives the console in Debian's chromium: an admin
// made by the CLI logs in, sees the overview count the mail swaks sent,
// finds a message with a hostile subject shown as text, holds and
// releases it with the console's confirmation pages, and opens the DMARC
// page after the shared report samples were imported. A screenshot of
// each page stays in the test's temp dir.
func TestConsoleBrowser(t *testing.T) {
	swaks := testenv.LookPath(t, "swaks")
	dns := dnstest.Start(t, dnstest.Zone{"remote.example. MX": {"10 mx.remote.example."}, "mx.remote.example. A": {"127.0.0.1"}})
	s := newServer(t, serverConfig{Extra: relayConfig(dns.Addr, 1, "")})
	admin := s.Admin
	s.addUser("boss@example.test", "boss-pass-1")
	if out, err := s.postern("", "user", "grant-admin", "boss@example.test"); err != nil {
		t.Fatalf("grant-admin: %v\n%s", err, out)
	}
	reports := testenv.SharedTestdata(t, "dmarc", "reports", "mox")
	if out, err := s.postern("", "dmarc", "import", filepath.Join(reports, "yahoo.eml"), filepath.Join(reports, "google.eml")); err != nil {
		t.Fatalf("dmarc import: %v\n%s", err, out)
	}
	s.start()
	// Nothing listens on the remote port: the message stays queued.
	out, err := exec.Command(swaks, "--server", s.MTA, "--ehlo", "client.test", "--from", "sender@example.test",
		"--to", "someone@remote.example", "--header", "Subject: "+hostileSubject, "--body", "hello").CombinedOutput()
	m := regexp.MustCompile(`queued as (\S+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	id := string(m[1])
	// A relay attempt, refused: the overview counts it under relay.
	// (from 127.0.0.2: loopback itself is a trusted network here).
	exec.Command(swaks, "--server", s.MTA, "--local-interface", "127.0.0.2", "--ehlo", "client.test", "--from", "x@else.test", "--to", "y@elsewhere.test").Run()

	b := testpeer.StartBrowser(t)
	base := "http://" + admin
	b.Do(t, chromedp.Navigate(base+"/console/login"), chromedp.WaitVisible(`input[name="user"]`))
	b.Screenshot(t, "login")
	b.Do(t, chromedp.SendKeys(`input[name="user"]`, "boss@example.test"), chromedp.SendKeys(`input[name="password"]`, "boss-pass-1"),
		chromedp.Click(`form.login button`), chromedp.WaitVisible(`.plots`))
	overview := testpeer.BrowserRun(t, b, chromedp.Text("body"))
	if !regexp.MustCompile(`accepted\s+1\s+1`).MatchString(overview) || !regexp.MustCompile(`relay\s+1\s+1`).MatchString(overview) {
		t.Errorf("the overview does not count 1 accepted and 1 refused for relay:\n%s", overview)
	}
	b.Screenshot(t, "overview")

	b.Do(t, chromedp.Navigate(base+"/console/queue"), chromedp.WaitVisible(`input[name="q"]`))
	queue := testpeer.BrowserRun(t, b, chromedp.Text("body"))
	if !strings.Contains(queue, `<script>alert(1)</script> "quoted" <img src=x onerror=alert(2)> [U+202E]evil`) {
		t.Errorf("the hostile subject is not shown as text:\n%s", queue)
	}
	if n := len(testpeer.BrowserRun(t, b, chromedp.Nodes("script, img", chromedp.AtLeast(0)))); n != 0 {
		t.Errorf("the queue page has %d script or img elements: the subject was not escaped", n)
	}
	b.Screenshot(t, "queue")

	for _, action := range []string{"hold", "release"} {
		b.Do(t, chromedp.Navigate(base+"/console/queue/"+id+"?do="+action), chromedp.WaitVisible(`form[action^="/console/queue/"] button`))
		b.Screenshot(t, "confirm-"+action)
		b.Do(t, chromedp.Click(`form[action^="/console/queue/"] button`), chromedp.WaitVisible(`p.ok`))
		list, _ := s.postern("", "queue", "list")
		if held := strings.Contains(list, "held"); held != (action == "hold") {
			t.Errorf("after %s in the browser, postern queue list says:\n%s", action, list)
		}
	}
	waitLogLine(t, s, regexp.MustCompile(`console .*user=boss@example.test.*request="hold `+id+`"`))
	b.Do(t, chromedp.Navigate(base+"/console/queue/"+id), chromedp.WaitVisible(`pre`))
	b.Screenshot(t, "message")

	b.Do(t, chromedp.Navigate(base+"/console/dmarc?days=36500"), chromedp.WaitVisible(`h2`))
	dmarc := testpeer.BrowserRun(t, b, chromedp.Text("body"))
	if !strings.Contains(dmarc, "By reporting organisation") || !strings.Contains(strings.ToLower(dmarc), "google.com") {
		t.Errorf("the DMARC page does not show the imported reports:\n%s", dmarc)
	}
	b.Screenshot(t, "dmarc")
	for _, page := range []string{"keys", "changes"} {
		b.Do(t, chromedp.Navigate(base+"/console/"+page), chromedp.WaitReady(`main table`))
		b.Screenshot(t, page)
	}
	changes := testpeer.BrowserRun(t, b, chromedp.Text("body"))
	if !strings.Contains(changes, s.cfgPath) {
		t.Errorf("the change log does not list the config file:\n%s", changes)
	}
}
