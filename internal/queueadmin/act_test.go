package queueadmin

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/control"
	"postern/internal/envelope"
	"postern/internal/spool"
)

type holdCourier struct{}

func (holdCourier) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	return make([]error, len(rcpts))
}

// Without a server the actions work on the spool directly.
func TestActWithoutServer(t *testing.T) {
	dir := t.TempDir()
	sock, spoolDir := filepath.Join(dir, "control.sock"), filepath.Join(dir, "spool")
	act := func(line string) (string, error) {
		req, err := control.ParseRequest(line)
		if err != nil {
			t.Fatal(err)
		}
		return Act(context.Background(), req, sock, spoolDir, spool.Options{})
	}
	if _, err := act("hold NOSUCH"); err == nil || !strings.Contains(err.Error(), "no spool") {
		t.Errorf("no spool: %v", err)
	}
	sp, err := spool.New(spoolDir, holdCourier{}, nil, spool.Options{})
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
	// Act refuses.
	if _, err := act("hold " + ids[0]); err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "does not answer on "+sock) {
		t.Errorf("locked spool: %v", err)
	}
	sp.Close()
	run := func(line string) string {
		t.Helper()
		text, err := act(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return text
	}
	if got := run("hold " + ids[0]); !strings.Contains(got, "held "+ids[0]) || !strings.Contains(got, "done on the queue directly") {
		t.Errorf("hold: %q", got)
	}
	run("release " + ids[0])
	run("hold " + ids[1])
	run("remove " + ids[2])
	if got := run("bounce " + ids[0]); !strings.Contains(got, "bounced") || !strings.Contains(got, "the bounce is sent when postern serve starts") {
		t.Errorf("bounce: %q", got)
	}
	if got := run("flush"); !strings.Contains(got, "flushed 1 message(s)") || !strings.Contains(got, "delivered when postern serve starts") { // the bounce; ids[1] is held
		t.Errorf("flush: %q", got)
	}
	items, err := spool.List(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].ID != ids[1] || !items[0].Held || items[1].From != "" || items[1].Rcpts[0] != "alice@example.org" {
		t.Errorf("queue: %+v", items)
	}
}
