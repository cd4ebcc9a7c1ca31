package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The queue command lists a spool directory and refuses arguments that
// make no sense, with the usage (exit 2).
func TestQueueCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	var out, errb bytes.Buffer
	if rc := queueCmd([]string{"list", "-spool", dir}, &out, &errb, time.Now()); rc != 0 || !strings.Contains(out.String(), "queue is empty") {
		t.Errorf("missing spool: rc %d, %q", rc, out.String())
	}
	out.Reset()
	if rc := queueCmd([]string{"-json", "list", "-spool", dir}, &out, &errb, time.Now()); rc != 0 || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("json: rc %d, %q", rc, out.String())
	}
	for _, bad := range [][]string{{}, {"frobnicate"}, {"hold"}, {"hold", "../x"}, {"list", "x"}, {"hold", "X", "-json"}, {"list", "-bogus"}} {
		if rc := queueCmd(bad, &out, &errb, time.Now()); rc != 2 {
			t.Errorf("%v: rc %d", bad, rc)
		}
	}
}
