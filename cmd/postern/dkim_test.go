package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The command finds the key directory from -data-dir and maps what goes
// wrong to its exit status: 2 for a bad request, 1 for a failure.
func TestDkimCommand(t *testing.T) {
	data := t.TempDir()
	var out, errb bytes.Buffer
	if rc := dkimCmd([]string{"keygen", "-domain", "Example.ORG.", "-selector", "e1", "-algo", "Ed25519", "-data-dir", data}, &out, &errb); rc != 0 {
		t.Fatalf("keygen: %d %s", rc, errb.String())
	}
	if _, err := os.Stat(filepath.Join(data, "dkim", "example.org", "e1.key")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rc := dkimCmd([]string{"status", "-data-dir", data, "-dns", "127.0.0.1:1"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "pending") {
		t.Errorf("status: %d\n%s", rc, out.String())
	}
	for bad, want := range map[string]int{
		"keygen -domain example.org -data-dir " + data:                       2,
		"keygen -domain ../x -selector a -data-dir " + data:                  2,
		"keygen -domain example.org -selector a -algo dsa -data-dir " + data: 2,
		"keygen -domain example.org -selector e1 -data-dir " + data:          1,
		"frob":                           2,
		"status extra -data-dir " + data: 2,
	} {
		if rc := dkimCmd(strings.Fields(bad), &out, &errb); rc != want {
			t.Errorf("%s: exit %d, want %d", bad, rc, want)
		}
	}
}
