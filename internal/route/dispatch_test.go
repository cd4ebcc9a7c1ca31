package route

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/smtp"
)

// Local domains go to their mailboxes, mailertable routes their way
// (error, local), the rest to remote delivery (here a null MX).
func TestDispatcherRoutes(t *testing.T) {
	mapsDir := t.TempDir()
	mt := "blocked.example error:5.7.1:550 we do not send there\n" +
		"tempfail.example error:4.4.1:451 try later\n" +
		"mailhub.example local:hub\n"
	os.WriteFile(filepath.Join(mapsDir, "mailertable"), []byte(mt), 0o644)
	set, err := maps.Open(mapsDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mail := t.TempDir()
	dns := dnstest.Start(t, dnstest.Zone{"null.example. MX": {"0 ."}})
	remote := &deliver.Remote{Hostname: "mx.example.test", Resolver: dns.Resolver(), Port: 25}
	defer remote.Close()
	isLocal := func(d string) bool { return d == "example.test" }
	x := &Dispatcher{
		Local:    &deliver.Local{Mailbox: mail + "/{domain}/{user}/", IsLocal: isLocal},
		AnyLocal: &deliver.Local{Mailbox: mail + "/{domain}/{user}/"},
		Remote:   remote,
		Maps:     set.Maps,
		IsLocal:  isLocal,
	}
	rcpts := []envelope.Recipient{
		{Addr: "alice@example.test"}, {Addr: "x@blocked.example"}, {Addr: "y@tempfail.example"},
		{Addr: "z@mailhub.example"}, {Addr: "w@null.example"},
	}
	content := "Subject: x\r\n\r\nhi\r\n"
	env := &envelope.Envelope{ID: "D1", From: "s@example.org", Rcpts: rcpts, Size: int64(len(content)), Received: time.Now()}
	errs := x.Deliver(context.Background(), env, rcpts, strings.NewReader(content))
	want := []struct {
		code     int
		enhanced string
	}{{}, {550, "5.7.1"}, {451, "4.4.1"}, {}, {556, "5.1.10"}}
	for i, w := range want {
		if w.code == 0 {
			if errs[i] != nil {
				t.Errorf("%s: %v", rcpts[i].Addr, errs[i])
			}
			continue
		}
		rep, ok := errs[i].(*smtp.Reply)
		if !ok || rep.Code != w.code || rep.Enhanced != w.enhanced {
			t.Errorf("%s: %v, want %d %s", rcpts[i].Addr, errs[i], w.code, w.enhanced)
		}
	}
	if rep, _ := errs[1].(*smtp.Reply); rep != nil && rep.Text != "we do not send there" {
		t.Errorf("error route text %q", rep.Text)
	}
	for _, box := range []string{"example.test/alice", "mailhub.example/hub"} {
		ents, _ := os.ReadDir(filepath.Join(mail, box, "new"))
		if len(ents) != 1 {
			t.Errorf("%s: %d messages", box, len(ents))
		}
	}
}

// panicCourier fails the way a bug would.
type panicCourier struct{}

func (panicCourier) Deliver(context.Context, *envelope.Envelope, []envelope.Recipient, io.ReaderAt) []error {
	panic("boom")
}

// A panic in one of several ways fails its recipients, not the server.
func TestDispatcherPanic(t *testing.T) {
	mail := t.TempDir()
	isLocal := func(d string) bool { return d == "example.test" }
	m, err := maps.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m.Mailertable, _ = maps.ParseMailertable("mailertable", strings.NewReader("hub.example local:\n"))
	x := &Dispatcher{
		Local:    panicCourier{},
		AnyLocal: &deliver.Local{Mailbox: mail + "/{domain}/{user}/"},
		Maps:     func() *maps.Maps { return m },
		IsLocal:  isLocal,
	}
	rcpts := []envelope.Recipient{{Addr: "a@example.test"}, {Addr: "b@hub.example"}}
	content := "Subject: x\r\n\r\nhi\r\n"
	env := &envelope.Envelope{ID: "D2", Size: int64(len(content)), Received: time.Now()}
	errs := x.Deliver(context.Background(), env, rcpts, strings.NewReader(content))
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "internal error in delivery: boom") || errs[1] != nil {
		t.Errorf("results %v", errs)
	}
}
