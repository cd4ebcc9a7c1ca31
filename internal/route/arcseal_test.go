package route

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"postern/internal/arc"
	"postern/internal/envelope"
)

// bodyRecorder is an Inner that keeps the content each recipient got.
type bodyRecorder struct{ body map[string]string }

func (r *bodyRecorder) Deliver(_ context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	b, _ := io.ReadAll(io.NewSectionReader(body, 0, env.Size))
	for _, rc := range rcpts {
		r.body[rc.Addr] = string(b)
	}
	return make([]error, len(rcpts))
}

type fakeSealer struct{ err error }

func (f fakeSealer) Seal(_ context.Context, msg io.Reader) (string, error) {
	b, _ := io.ReadAll(msg)
	return fmt.Sprintf("ARC-Seal: over %d bytes\r\n", len(b)), f.err
}

func TestARCSealsForwardedMailOnly(t *testing.T) {
	const content = "From: a@origin.test\r\n\r\nhello\r\n"
	tests := []struct {
		name     string
		err      error
		srs      bool
		want     string // what x@remote.test gets
		deferred bool
	}{
		{"sealed", nil, false, "ARC-Seal: over 30 bytes\r\n" + content, false},
		{"sealed with SRS", nil, true, "ARC-Seal: over 30 bytes\r\n" + content, false},
		{"not to be sealed", fmt.Errorf("%w: cv=fail", arc.ErrNotSealed), false, content, false},
		{"no key", errors.New("no key"), false, "", true},
	}
	for _, tt := range tests {
		rec := &bodyRecorder{body: map[string]string{}}
		c := &Courier{Inner: rec, IsLocal: func(d string) bool { return d == "example.test" }, ARC: fakeSealer{tt.err}}
		if tt.srs {
			c.SRS = &SRS{Forward: fakeSRS}
		}
		env := &envelope.Envelope{ID: "A", From: "a@origin.test", Size: int64(len(content)), Rcpts: []envelope.Recipient{
			{Addr: "x@remote.test", Forwarded: true}, {Addr: "y@remote.test"}, {Addr: "bob@example.test", Forwarded: true}}}
		errs := c.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(content))
		if got := rec.body["x@remote.test"]; got != tt.want || (errs[0] != nil) != tt.deferred {
			t.Errorf("%s: forwarded copy %q, err %v", tt.name, got, errs[0])
		}
		if tt.deferred && !strings.Contains(errs[0].Error(), "451") {
			t.Errorf("%s: %v, want a 451", tt.name, errs[0])
		}
		for _, a := range []string{"y@remote.test", "bob@example.test"} {
			if rec.body[a] != content || errs[1] != nil || errs[2] != nil {
				t.Errorf("%s: %s got %q", tt.name, a, rec.body[a])
			}
		}
	}
}

func TestPrefixedReadAt(t *testing.T) {
	p := prefixed{head: "abc", body: strings.NewReader("defgh")}
	for off := 0; off <= 8; off++ {
		for n := 1; n <= 9; n++ {
			b := make([]byte, n)
			got, _ := p.ReadAt(b, int64(off))
			want := "abcdefgh"[off:min(8, off+n)]
			if string(b[:got]) != want {
				t.Errorf("ReadAt(%d bytes, %d) = %q, want %q", n, off, b[:got], want)
			}
		}
	}
}
