package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"postern/internal/config"
	"postern/internal/dmarcreport"
	"postern/internal/ratelimit/redistest"
	"postern/internal/sharedstate"
)

// On a fleet the DMARC page lists the reports sent from the shared store
// the sender claims them in, so a node that sent nothing itself shows the
// report another node sent; when the store stops answering, the page
// says which service and what to check instead of an empty list.
func TestDMARCSentFromSharedStore(t *testing.T) {
	srv := redistest.Start(t)
	// Another node of the fleet claims its reports in Redis, as its sender does.
	ro, _ := redis.ParseURL(srv.URL())
	rc := redis.NewClient(ro)
	defer rc.Close()
	store := dmarcreport.NewRedis(rc, "postern:")
	this, err := sharedstate.Open(&config.Config{RateLimit: config.RateLimit{Backend: "redis", RedisURL: srv.URL()}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer this.Close()
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	for _, k := range []string{".sent-0123456789abcdef01234567", ".sent-76543210fedcba9876543210", ".done"} {
		if _, err := store.Claim(context.Background(), fmt.Sprintf("aggregate-%d-%d%s", day.Unix(), day.Add(24*time.Hour).Unix(), k)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir() // this node's own record: empty
	f := newFixture(t, func(o *Options) {
		o.DMARCDir = dir
		o.DMARCSent = this.DMARCSent(dir)
	})
	ck, _ := f.login(t, "admin@example.test", "right")
	page := func() string {
		w := f.do("GET", "/console/dmarc", nil, ck, "")
		if w.Code != http.StatusOK {
			t.Fatalf("dmarc page: %d", w.Code)
		}
		return w.Body.String()
	}
	body := page()
	row := sentTable(body)
	if !strings.Contains(row, ">2<") || !strings.Contains(row, `class="ok">complete`) || strings.Contains(body, "None in this period") {
		t.Errorf("the other node's reports are not listed: %s", row)
	}
	srv.Stop()
	body = page()
	if !strings.Contains(body, "cannot be shown") || !strings.Contains(body, "redis at redis://"+srv.Addr) ||
		!strings.Contains(body, "redis_url") || strings.Contains(body, "None in this period") {
		t.Errorf("store stopped: the page does not say so:\n%s", body)
	}
}

// sentTable is the table of the reports sent, from its heading on.
func sentTable(body string) string {
	_, after, _ := strings.Cut(body, "Reports we sent")
	before, _, _ := strings.Cut(after, "</table>")
	return before
}
