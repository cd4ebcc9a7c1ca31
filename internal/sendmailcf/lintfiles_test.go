package sendmailcf

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A directory stands for its sendmail.mc (else .cf), access and
// relay-domains; files named must be readable, those of a directory
// may be missing.
func TestLintFiles(t *testing.T) {
	dir := t.TempDir()
	mc := filepath.Join(dir, "sendmail.mc")
	os.WriteFile(mc, []byte("FEATURE(`promiscuous_relay')dnl\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "access"), []byte("Connect:10 RELAY\nbad line without value\n"), 0o644)
	rep, problems, fatal := LintFiles([]string{dir})
	if fatal || rep.ConfigFile != mc || rep.Input.AccessFile == "" || rep.Input.RelayFile != "" {
		t.Fatalf("directory: %+v %v %v", rep, problems, fatal)
	}
	if rep.Status() != 2 {
		t.Errorf("promiscuous_relay: status %d", rep.Status())
	}
	var b bytes.Buffer
	rep.WriteText(&b)
	if !strings.Contains(b.String(), "finding(s) in "+mc+", "+filepath.Join(dir, "access")+"\n") {
		t.Errorf("text:\n%s", b.String())
	}
	b.Reset()
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var j struct{ Findings []Finding }
	if err := json.Unmarshal(b.Bytes(), &j); err != nil || len(j.Findings) != len(rep.Findings) {
		t.Errorf("json %v:\n%s", err, b.String())
	}

	// A named access map that is missing stops the lint.
	if _, problems, fatal := LintFiles([]string{mc, filepath.Join(dir, "none")}); !fatal || len(problems) != 1 {
		t.Errorf("missing access: %v %v", problems, fatal)
	}
	// A directory without sendmail.mc falls back to sendmail.cf.
	empty := t.TempDir()
	if _, problems, fatal := LintFiles([]string{empty}); !fatal || len(problems) != 1 || !strings.Contains(problems[0].Error(), filepath.Join(empty, "sendmail.cf")) {
		t.Errorf("empty directory: %v %v", problems, fatal)
	}
	// Nothing to report: status 0, and JSON holds an empty list.
	clean := &LintReport{ConfigFile: mc}
	b.Reset()
	clean.WriteJSON(&b)
	if clean.Status() != 0 || !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("clean: %d %s", clean.Status(), b.String())
	}
}
