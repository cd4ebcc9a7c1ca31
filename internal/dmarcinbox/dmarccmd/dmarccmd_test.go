package dmarccmd

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/dmarcreport"
	"postern/internal/testenv"
)

// dmarcRun runs a command function with stdout captured.
func dmarcRun(t *testing.T, f func([]string) int, args ...string) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	rc := f(args)
	os.Stdout = old
	w.Close()
	return <-done, rc
}

func TestDmarcImportAndReport(t *testing.T) {
	src := testenv.SharedTestdata(t, "dmarc", "reports")
	data := t.TempDir()
	out, rc := dmarcRun(t, Run, "import", filepath.Join(src, "mox", "yahoo.eml"), filepath.Join(src, "mox", "google.eml"),
		filepath.Join(src, "mail-dmarc", "test_dmarc.xml.gz"), "-data-dir", data)
	if rc != 0 || strings.Count(out, "records ->") != 3 {
		t.Fatalf("import rc %d:\n%s", rc, out)
	}
	out, rc = dmarcRun(t, Run, "import", "-data-dir", data, filepath.Join(src, "mox", "yahoo.eml"))
	if rc != 0 || !strings.Contains(out, "already stored") {
		t.Fatalf("re-import rc %d:\n%s", rc, out)
	}
	notReport := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(notReport, []byte("Subject: hi\r\n\r\nhello\r\n"), 0o600)
	if _, rc := dmarcRun(t, Run, "import", "-data-dir", data, notReport); rc != 1 {
		t.Errorf("import of a non-report: rc %d", rc)
	}

	out, rc = dmarcRun(t, Run, "report", "-since", "100000d", "-json", "-data-dir", data)
	if rc != 0 {
		t.Fatalf("report rc %d", rc)
	}
	var s dmarcreport.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// yahoo 1 (pass), google 5 (pass), test_dmarc 1 (pass).
	if s.Reports != 3 || s.Total.Messages != 7 || s.Total.Pass != 7 || len(s.ByDomain) != 2 {
		t.Errorf("summary %+v", s)
	}
	out, rc = dmarcRun(t, Run, "report", "-data-dir", data, "-since", "100000d")
	if rc != 0 || !strings.Contains(out, "ueber.net") || !strings.Contains(out, "source IP") {
		t.Errorf("text report rc %d:\n%s", rc, out)
	}
	// The reports are from 2019-2021: none in the last week.
	out, _ = dmarcRun(t, Run, "report", "-data-dir", data)
	if !strings.Contains(out, "No DMARC aggregate reports") {
		t.Errorf("last week:\n%s", out)
	}
	if _, rc := dmarcRun(t, Run, "report", "-since", "soon", "-data-dir", data); rc != 2 {
		t.Errorf("bad -since: rc %d", rc)
	}
	if _, rc := dmarcRun(t, Run, "frobnicate"); rc != 2 {
		t.Errorf("unknown subcommand: rc %d", rc)
	}
}
