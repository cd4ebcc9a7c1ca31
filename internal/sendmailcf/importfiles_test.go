package sendmailcf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportOutput(t *testing.T) {
	out := t.TempDir()
	im := &Imported{Config: "hostname = \"x\"\n", Maps: map[string]string{"access": "Connect:10 RELAY\n"},
		NotCarried: []Note{{File: "sendmail.mc", Line: 3, Text: "FEATURE(x)"}}}
	files := im.OutputFiles("/etc/mail", out, filepath.Join(out, "maps"))
	names, err := WriteOutput(files, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(out, "IMPORT-NOTES.txt"), filepath.Join(out, "maps", "access"), filepath.Join(out, "postern.toml")}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("names %q", names)
	}
	notes, _ := os.ReadFile(want[0])
	if !strings.Contains(string(notes), "Import of the sendmail setup in /etc/mail") || !strings.Contains(string(notes), "needs your decision (1):\n  - ") {
		t.Errorf("notes:\n%s", notes)
	}
	if fi, _ := os.Stat(want[2]); fi.Mode().Perm() != 0o644 {
		t.Errorf("config mode %v", fi.Mode())
	}
	if _, err := WriteOutput(files, false); err == nil || !strings.Contains(err.Error(), "use -force to overwrite") {
		t.Errorf("second write: %v", err)
	}
	if _, err := WriteOutput(files, true); err != nil {
		t.Errorf("with force: %v", err)
	}
	var b bytes.Buffer
	if err := im.WriteJSON(&b, want[2], names); err != nil || !strings.Contains(b.String(), `"changed": []`) {
		t.Errorf("json %v:\n%s", err, b.String())
	}
}

func TestSystemAliases(t *testing.T) {
	if got := SystemAliases(t.TempDir()); got != "" {
		t.Errorf("other directory: %q", got)
	}
}
