package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/spool"
)

type holdCourier struct{}

func (holdCourier) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	return make([]error, len(rcpts))
}

func TestQueueList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	sp, err := spool.New(dir, holdCourier{}, nil, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Run is not started: the messages stay queued.
	arrived := time.Now().Add(-90 * time.Minute)
	for _, from := range []string{"alice@example.org", ""} {
		env := &envelope.Envelope{From: from, Received: arrived, Rcpts: []envelope.Recipient{{Addr: "bob@example.test"}, {Addr: "carol@remote.example"}}, Hold: from == ""}
		w, err := sp.Create(env)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "Subject: hi\r\n\r\nhello\r\n")
		if err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if rc := queueCmd([]string{"list", "-spool", dir}, &out, &errb, time.Now()); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	text := out.String()
	for _, want := range []string{"ID", "alice@example.org", "<>", "bob@example.test,carol@remote.example", "1h", "22", "(held) -", "2 message(s), 44 bytes"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	os.WriteFile(filepath.Join(dir, "corrupt", "BROKEN"), []byte("x"), 0o600)
	out.Reset()
	queueCmd([]string{"list", "-spool", dir}, &out, &errb, time.Now())
	if !strings.Contains(out.String(), "1 file(s) set aside as corrupt") {
		t.Errorf("corrupt file not mentioned:\n%s", out.String())
	}

	out.Reset()
	if rc := queueCmd([]string{"-json", "list", "-spool", dir}, &out, &errb, time.Now()); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	var items []spool.Item
	if err := json.Unmarshal(out.Bytes(), &items); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if len(items) != 2 || items[0].Size != 22 || len(items[1].Rcpts) != 2 {
		t.Errorf("json items: %+v", items)
	}

	out.Reset()
	if rc := queueCmd([]string{"list", "-spool", filepath.Join(dir, "none")}, &out, &errb, time.Now()); rc != 0 || !strings.Contains(out.String(), "queue is empty") {
		t.Errorf("missing spool: rc %d, %q", rc, out.String())
	}
	for _, bad := range [][]string{{"frobnicate"}, {"hold"}, {"hold", "../x"}, {"list", "x"}, {"hold", "X", "-json"}} {
		if rc := queueCmd(bad, &out, &errb, time.Now()); rc != 2 {
			t.Errorf("%v: rc %d", bad, rc)
		}
	}
}

// Without a server the actions work on the spool directly.
func TestQueueActionsWithoutServer(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfgPath, []byte("hostname = \"mx.example.test\"\ndata_dir = \""+dir+"\"\n"), 0o600)
	var out, errb bytes.Buffer
	if rc := queueCmd([]string{"hold", "NOSUCH", "-config", cfgPath}, &out, &errb, time.Now()); rc != 1 || !strings.Contains(errb.String(), "no spool") {
		t.Errorf("no spool: rc %d %q", rc, errb.String())
	}
	sp, err := spool.New(filepath.Join(dir, "spool"), holdCourier{}, nil, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 3; i++ {
		env := &envelope.Envelope{From: "alice@example.org", Rcpts: []envelope.Recipient{{Addr: "bob@example.test"}}}
		w, _ := sp.Create(env)
		io.WriteString(w, "Subject: hi\r\n\r\nhello\r\n")
		if err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, env.ID)
	}
	// While the spool is open (as by a server without a control socket),
	// the command refuses.
	if rc := queueCmd([]string{"hold", ids[0], "-config", cfgPath}, &out, &errb, time.Now()); rc != 1 || !strings.Contains(errb.String(), "in use") {
		t.Errorf("locked spool: rc %d %q", rc, errb.String())
	}
	sp.Close()
	run := func(args ...string) string {
		t.Helper()
		out.Reset()
		errb.Reset()
		if rc := queueCmd(append(args, "-config", cfgPath), &out, &errb, time.Now()); rc != 0 {
			t.Fatalf("%v: rc %d: %s", args, rc, errb.String())
		}
		return out.String()
	}
	if got := run("hold", ids[0]); !strings.Contains(got, "held "+ids[0]) || !strings.Contains(got, "no server") {
		t.Errorf("hold: %q", got)
	}
	run("release", ids[0])
	run("hold", ids[1])
	run("remove", ids[2])
	if got := run("bounce", ids[0]); !strings.Contains(got, "bounced") {
		t.Errorf("bounce: %q", got)
	}
	if got := run("flush"); !strings.Contains(got, "flushed 1 message(s)") { // the bounce; ids[1] is held
		t.Errorf("flush: %q", got)
	}
	items, err := spool.List(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].ID != ids[1] || !items[0].Held || items[1].From != "" || items[1].Rcpts[0] != "alice@example.org" {
		t.Errorf("queue: %+v", items)
	}
}
