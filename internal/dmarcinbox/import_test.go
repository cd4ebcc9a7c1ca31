package dmarcinbox

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dmarcreport"
	"postern/internal/testenv"
)

func TestFiles(t *testing.T) {
	src := testenv.SharedTestdata(t, "dmarc", "reports")
	store := dmarcreport.ReceivedStore{Dir: filepath.Join(t.TempDir(), "received")}
	msg, err := os.ReadFile(filepath.Join(src, "mox", "google.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if !Files(store, []string{filepath.Join(src, "mox", "yahoo.eml"), "-"}, bytes.NewReader(msg), &out, &errw) {
		t.Fatalf("import: %s", errw.String())
	}
	if strings.Count(out.String(), "records ->") != 2 || !strings.Contains(out.String(), "-: report ") {
		t.Errorf("out:\n%s", out.String())
	}
	out.Reset()
	notReport := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(notReport, []byte("Subject: hi\r\n\r\nhello\r\n"), 0o600)
	if Files(store, []string{filepath.Join(src, "mox", "yahoo.eml"), notReport, filepath.Join(src, "none")}, nil, &out, &errw) {
		t.Error("a non-report and a missing file imported")
	}
	if !strings.Contains(out.String(), "already stored") || !strings.Contains(errw.String(), "postern dmarc import: "+notReport+": ") {
		t.Errorf("out:\n%s\nerr:\n%s", out.String(), errw.String())
	}
}

func TestParseDays(t *testing.T) {
	for in, ok := range map[string]bool{"7d": true, "36h": true, "30m": true, "0d": false, "-1h": false, "d": false, "x": false} {
		if _, err := ParseDays(in); (err == nil) != ok {
			t.Errorf("ParseDays(%q): %v", in, err)
		}
	}
}

func TestSummary(t *testing.T) {
	src := testenv.SharedTestdata(t, "dmarc", "reports")
	store := dmarcreport.ReceivedStore{Dir: filepath.Join(t.TempDir(), "received")}
	var out, errw bytes.Buffer
	if err := Summary(&out, &errw, store, time.Now().Add(-time.Hour), false); err != nil || !strings.Contains(out.String(), "No DMARC aggregate reports received since") {
		t.Errorf("empty store: %v %q", err, out.String())
	}
	if !Files(store, []string{filepath.Join(src, "mox", "google.eml")}, nil, &out, &errw) {
		t.Fatal(errw.String())
	}
	out.Reset()
	if err := Summary(&out, &errw, store, time.Unix(0, 0), true); err != nil {
		t.Fatal(err)
	}
	var s dmarcreport.Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.Reports != 1 || s.Total.Messages != 5 {
		t.Errorf("summary %+v %v", s, err)
	}
	out.Reset()
	if err := Summary(&out, &errw, store, time.Unix(0, 0), false); err != nil || !strings.Contains(out.String(), "source IP") {
		t.Errorf("text: %v\n%s", err, out.String())
	}
}
