package console

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"postern/internal/changelog"
	"postern/internal/dmarcreport"
)

// benchHistory has every series of 30 days: per minute, hour and day.
func benchHistory() *memHistory {
	h := &memHistory{m: map[string]float64{"queue": 10000}}
	for _, n := range flowSeries {
		h.m[n] = 40
	}
	for _, r := range Reasons {
		h.m["rejected:"+r] = 3
	}
	for i := 0; i < 50; i++ {
		h.m[fmt.Sprintf("outbound:user%d@example.test", i)] = float64(i)
		h.m[fmt.Sprintf("threshold:user%d@example.test", i)] = 100
	}
	h.m["outbound:host"] = 500
	return h
}

// BenchmarkPages loads each page with 30 days of history, 10,000 queued
// messages written by the spool's writer and 200 changes.
func BenchmarkPages(b *testing.B) {
	var changes memChanges
	for i := 200; i >= 1; i-- {
		changes = append(changes, changelog.Entry{N: i, Time: time.Now().Add(-time.Duration(200-i) * time.Hour),
			File: "/etc/postern/postern.toml", Who: "root", Kind: "change", Applied: true, Check: "ok",
			Diff: "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n"})
	}
	dmarcDir := b.TempDir()
	saveBenchReports(b, dmarcDir)
	f := newFixture(b, func(o *Options) { o.History = benchHistory(); o.Changes = changes; o.DMARCDir = dmarcDir })
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id := f.queueQuiet(b, fmt.Sprintf("sender%d@example.test", g), fmt.Sprintf("Subject: message %d of %d\r\nFrom: a@b\r\n", i, g))
				mu.Lock()
				f.ids = append(f.ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ck, _ := f.login(b, "admin@example.test", "right")
	start := time.Now()
	f.do("GET", "/console/queue?q=message+7+of", nil, ck, "") // reads every subject once
	b.Logf("first subject search, reading %d queue files: %v", len(f.ids), time.Since(start))
	for _, target := range []string{"/console/", "/console/queue", "/console/queue?page=150",
		"/console/queue?q=sender7@", "/console/queue?q=message+7+of", "/console/queue/" + f.ids[5000],
		"/console/dmarc", "/console/changes", "/console/changes/100"} {
		b.Run(target, func(b *testing.B) {
			for b.Loop() {
				if w := f.do("GET", target, nil, ck, ""); w.Code != http.StatusOK {
					b.Fatalf("%d", w.Code)
				}
			}
		})
	}
}

// saveBenchReports stores 30 days of aggregate reports: ten reporters a
// day, each with 20 sources.
func saveBenchReports(b *testing.B, dir string) {
	store := dmarcreport.ReceivedStore{Dir: filepath.Join(dir, "received")}
	for day := 0; day < 30; day++ {
		begin := time.Now().Add(-time.Duration(day+1) * 24 * time.Hour)
		for org := 0; org < 10; org++ {
			f := &dmarcreport.Feedback{
				Metadata: dmarcreport.ReportMetadata{OrgName: fmt.Sprintf("reporter%d.example", org), ReportID: fmt.Sprintf("%d-%d", day, org),
					DateRange: dmarcreport.DateRange{Begin: dmarcreport.Int(begin.Unix()), End: dmarcreport.Int(begin.Add(24 * time.Hour).Unix())}},
				Policy: dmarcreport.PolicyPublished{Domain: "example.test"},
			}
			for src := 0; src < 20; src++ {
				eval := "pass"
				if src%4 == 0 {
					eval = "fail"
				}
				f.Records = append(f.Records, dmarcreport.Record{
					Row:         dmarcreport.Row{SourceIP: fmt.Sprintf("192.0.2.%d", src), Count: 10, PolicyEvaluated: dmarcreport.PolicyEvaluated{DKIM: eval, SPF: eval}},
					Identifiers: dmarcreport.Identifiers{HeaderFrom: "example.test"},
					AuthResults: dmarcreport.AuthResults{SPF: []dmarcreport.SPFReport{{Domain: "example.test", Result: eval}}},
				})
			}
			if _, _, err := store.Save(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
