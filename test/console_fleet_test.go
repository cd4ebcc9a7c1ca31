package test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"postern/internal/dmarcreport"
	"postern/internal/ratelimit/redistest"
	"postern/internal/testpeer"
)

// TestConsoleBrowserFleetDMARC: a node whose [ratelimit] backend is a
// shared Redis lists, on its console's DMARC page (in Debian's chromium),
// the aggregate reports another node of the fleet sent; when Redis stops,
// the page says that the shared store does not answer and what to check,
// instead of an empty list.
func TestConsoleBrowserFleetDMARC(t *testing.T) {
	rds := redistest.Start(t)
	s := newServer(t, serverConfig{Extra: fmt.Sprintf("[ratelimit]\nbackend = \"redis\"\nredis_url = %q\n", rds.URL())})
	admin := s.Admin
	s.addUser("boss@example.test", "boss-pass-1")
	if out, err := s.postern("", "user", "grant-admin", "boss@example.test"); err != nil {
		t.Fatalf("grant-admin: %v\n%s", err, out)
	}
	s.start()

	// Another node sent two reports of yesterday and finished the period.
	o, _ := redis.ParseURL(rds.URL())
	c := redis.NewClient(o)
	defer c.Close()
	other := dmarcreport.NewRedis(c, "postern:")
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	for _, k := range []string{".sent-0123456789abcdef01234567", ".sent-76543210fedcba9876543210", ".done"} {
		if _, err := other.Claim(context.Background(), fmt.Sprintf("aggregate-%d-%d%s", day.Unix(), day.Add(24*time.Hour).Unix(), k)); err != nil {
			t.Fatal(err)
		}
	}

	b := testpeer.StartBrowser(t)
	base := "http://" + admin
	b.Do(t, chromedp.Navigate(base+"/console/login"), chromedp.WaitVisible(`input[name="user"]`))
	b.Do(t, chromedp.SendKeys(`input[name="user"]`, "boss@example.test"), chromedp.SendKeys(`input[name="password"]`, "boss-pass-1"),
		chromedp.Click(`form.login button`), chromedp.WaitVisible(`.plots`))
	b.Do(t, chromedp.Navigate(base+"/console/dmarc"), chromedp.WaitVisible(`h2`))
	page := testpeer.BrowserRun(t, b, chromedp.Text("body"))
	if !regexp.MustCompile(`\s2\s+complete`).MatchString(page) || strings.Contains(page, "None in this period") {
		t.Errorf("the DMARC page does not list the other node's reports:\n%s", page)
	}
	b.Screenshot(t, "dmarc-fleet")

	rds.Stop()
	b.Do(t, chromedp.Navigate(base+"/console/dmarc"), chromedp.WaitVisible(`h2`))
	page = testpeer.BrowserRun(t, b, chromedp.Text("body"))
	if !strings.Contains(page, "cannot be shown") || !strings.Contains(page, "redis at "+rds.URL()) ||
		!strings.Contains(page, "[ratelimit] redis_url") || strings.Contains(page, "None in this period") {
		t.Errorf("with Redis stopped, the DMARC page does not say so:\n%s", page)
	}
	b.Screenshot(t, "dmarc-fleet-down")
}
