package queueadmin

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

func TestList(t *testing.T) {
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
	if err := List(&out, &errb, dir, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"ID", "alice@example.org", "<>", "bob@example.test,carol@remote.example", "1h", "22", "(held) -", "2 message(s), 44 bytes"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	os.WriteFile(filepath.Join(dir, "corrupt", "BROKEN"), []byte("x"), 0o600)
	out.Reset()
	List(&out, &errb, dir, false, time.Now())
	if !strings.Contains(out.String(), "1 file(s) set aside as corrupt") {
		t.Errorf("corrupt file not mentioned:\n%s", out.String())
	}

	out.Reset()
	if err := List(&out, &errb, dir, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	var items []spool.Item
	if err := json.Unmarshal(out.Bytes(), &items); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if len(items) != 2 || items[0].Size != 22 || len(items[1].Rcpts) != 2 {
		t.Errorf("json items: %+v", items)
	}

	out.Reset()
	if err := List(&out, &errb, filepath.Join(dir, "none"), false, time.Now()); err != nil || !strings.Contains(out.String(), "queue is empty") || !strings.Contains(errb.String(), "no spool at") {
		t.Errorf("missing spool: %v, %q", err, out.String())
	}
}
