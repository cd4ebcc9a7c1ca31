package route

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"postern/internal/envelope"
)

// recorder is an Inner that keeps the sender each recipient went with.
type recorder struct{ from map[string]string }

func (r *recorder) Deliver(_ context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, _ io.ReaderAt) []error {
	for _, rc := range rcpts {
		r.from[rc.Addr] = env.From
	}
	return make([]error, len(rcpts))
}

func srsCourier(forward func(string) (string, error)) (*Courier, *recorder) {
	rec := &recorder{from: map[string]string{}}
	isLocal := func(d string) bool { return d == "example.test" }
	return &Courier{Inner: rec, IsLocal: isLocal, SRS: &SRS{
		Forward: forward,
		Keep:    func(d string) bool { return isLocal(d) || d == "partner.test" || strings.HasSuffix(d, ".lists.test") },
	}}, rec
}

func fakeSRS(s string) (string, error) {
	return "SRS0=" + strings.Replace(s, "@", "=", 1) + "@example.test", nil
}

func TestSRSOnlyForwardedMailLeaving(t *testing.T) {
	c, rec := srsCourier(fakeSRS)
	env := &envelope.Envelope{ID: "A", From: "alice@origin.test", Rcpts: []envelope.Recipient{
		{Addr: "x@remote.test", Forwarded: true}, // virtusertable or alias copy
		{Addr: "y@remote.test"},                  // relayed for a client: not forwarding
		{Addr: "bob@example.test", Forwarded: true},
	}}
	for i, err := range c.Deliver(context.Background(), env, env.Rcpts, strings.NewReader("")) {
		if err != nil {
			t.Fatalf("rcpt %d: %v", i, err)
		}
	}
	want := map[string]string{"x@remote.test": "SRS0=alice=origin.test@example.test",
		"y@remote.test": "alice@origin.test", "bob@example.test": "alice@origin.test"}
	for a, w := range want {
		if rec.from[a] != w {
			t.Errorf("%s went with sender %q, want %q", a, rec.from[a], w)
		}
	}
	if env.From != "alice@origin.test" {
		t.Errorf("the queue's envelope changed: %q", env.From)
	}
}

func TestSRSSendersKept(t *testing.T) {
	for _, from := range []string{"", "carol@example.test", "p@partner.test", "l@a.lists.test", "x@Example.TEST"} {
		c, rec := srsCourier(fakeSRS)
		env := &envelope.Envelope{ID: "B", From: from, Rcpts: []envelope.Recipient{{Addr: "x@remote.test", Forwarded: true}}}
		c.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(""))
		if rec.from["x@remote.test"] != from {
			t.Errorf("sender %q became %q", from, rec.from["x@remote.test"])
		}
	}
	// A sender that cannot be rewritten goes as it is.
	c, rec := srsCourier(func(string) (string, error) { return "", errors.New("no keys") })
	env := &envelope.Envelope{ID: "C", From: "a@origin.test", Rcpts: []envelope.Recipient{{Addr: "x@remote.test", Forwarded: true}}}
	if errs := c.Deliver(context.Background(), env, env.Rcpts, strings.NewReader("")); errs[0] != nil || rec.from["x@remote.test"] != "a@origin.test" {
		t.Errorf("failed rewrite: %v, sender %q", errs[0], rec.from["x@remote.test"])
	}
}

// Forwarded copies carry the mark that gives them the SRS sender.
func TestForwardedCopiesMarked(t *testing.T) {
	var got *envelope.Envelope
	f := &Forwarder{Dir: t.TempDir(), Inject: func(_ context.Context, env *envelope.Envelope, content io.Reader) error {
		got = env
		return nil
	}}
	env := &envelope.Envelope{ID: "D", From: "a@origin.test", Size: 2}
	if err := f.Forward(context.Background(), env, envelope.Recipient{Addr: "staff@example.test"}, env.From, []string{"x@remote.test", "y@remote.test"}, strings.NewReader("hi")); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.From != "a@origin.test" || len(got.Rcpts) != 2 || !got.Rcpts[0].Forwarded || !got.Rcpts[1].Forwarded {
		t.Fatalf("copy %+v", got)
	}
}
