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
		return Act(context.Background(), []control.Request{req}, sock, spoolDir, spool.Options{}, "")
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
	// The list is in queue-id order, and ids made in the same instant
	// sort at random: find each by its id.
	if len(items) == 2 && items[0].ID != ids[1] {
		items[0], items[1] = items[1], items[0]
	}
	if len(items) != 2 || items[0].ID != ids[1] || !items[0].Held || items[1].From != "" || items[1].Rcpts[0] != "alice@example.org" {
		t.Errorf("queue: %+v", items)
	}
}

func TestRequests(t *testing.T) {
	for _, c := range []struct {
		words []string
		all   bool
		want  []control.Request
		err   string
	}{
		{[]string{"flush"}, false, []control.Request{{Verb: "flush"}}, ""},
		{[]string{"hold", "ABC"}, false, []control.Request{{Verb: "hold", ID: "ABC"}}, ""},
		{[]string{"requeue", "A", "B"}, false, []control.Request{{Verb: "requeue", ID: "A"}, {Verb: "requeue", ID: "B"}}, ""},
		{[]string{"requeue"}, true, []control.Request{{Verb: "requeue"}}, ""},
		{[]string{"requeue"}, false, nil, "give -all or the queue ids"},
		{[]string{"requeue", "A"}, true, nil, "give -all or the queue ids"},
		{[]string{"requeue", "../x"}, false, nil, "not a queue id"},
		{[]string{"flush"}, true, nil, "-all goes with requeue only"},
		{[]string{"hold"}, false, nil, "needs a queue id"},
		{[]string{"list"}, false, nil, "not an action"},
	} {
		got, err := Requests(c.words, c.all)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v -all=%v: %v, want error %q", c.words, c.all, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%v: %v %v", c.words, got, err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v: %v, want %v", c.words, got, c.want)
			}
		}
	}
}

// Offline requeue of several ids: recorded for the next start.
func TestActRequeueOffline(t *testing.T) {
	dir := t.TempDir()
	sock, spoolDir := filepath.Join(dir, "control.sock"), filepath.Join(dir, "spool")
	sp, err := spool.New(spoolDir, holdCourier{}, nil, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 2; i++ {
		env := &envelope.Envelope{From: "alice@example.org", Rcpts: []envelope.Recipient{{Addr: "bob@example.test"}}}
		w, _ := sp.Create(env)
		io.WriteString(w, "Subject: hi\r\n\r\nhello\r\n")
		if err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, env.ID)
	}
	sp.Close()
	reqs, err := Requests([]string{"requeue", ids[0], ids[1]}, false)
	if err != nil {
		t.Fatal(err)
	}
	text, err := Act(context.Background(), reqs, sock, spoolDir, spool.Options{}, "")
	if err != nil || strings.Count(text, "requeued ") != 2 || !strings.Contains(text, "delivered when postern serve starts") {
		t.Errorf("requeue: %q %v", text, err)
	}
	reqs, _ = Requests([]string{"requeue", "NOSUCH"}, false)
	if _, err := Act(context.Background(), reqs, sock, spoolDir, spool.Options{}, ""); err == nil || !strings.Contains(err.Error(), "no such message") {
		t.Errorf("requeue of an unknown id: %v", err)
	}
}
