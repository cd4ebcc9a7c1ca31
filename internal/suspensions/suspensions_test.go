package suspensions

import (
	"context"
	"errors"
	"testing"
	"time"

	"postern/internal/ratelimit"
)

// broken is a backend that does not answer.
type broken struct{}

func (broken) Set(context.Context, string, []byte, time.Duration) error { return errors.New("down") }
func (broken) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("down")
}

func TestCheckAuth(t *testing.T) {
	ctx := context.Background()
	s := &Shared{KV: ratelimit.NewMemory(ratelimit.MemoryOptions{})}
	if err := s.Suspend(ctx, "alice@example.test"); err != nil {
		t.Fatal(err)
	}
	down := &Shared{KV: broken{}}
	tests := []struct {
		name         string
		s            *Shared
		user         string
		verified, ok bool
		code         int // 0: no verdict
		held         bool
	}{
		{"suspended, right password", s, "alice@example.test", true, true, 535, true},
		{"suspended, before the password", s, "alice@example.test", false, false, 0, true},
		{"suspended, wrong password", s, "alice@example.test", true, false, 0, true},
		{"not suspended", s, "bob@example.test", true, true, 0, false},
		{"backend down", down, "bob@example.test", true, true, 454, true},
		{"backend down, wrong password", down, "bob@example.test", true, false, 0, true},
	}
	for _, tt := range tests {
		v := tt.s.CheckAuth(ctx, nil, tt.user, tt.verified, tt.ok)
		switch {
		case tt.code == 0 && v != nil:
			t.Errorf("%s: verdict %+v, want none", tt.name, v)
		case tt.code != 0 && (v == nil || v.Reply == nil || v.Reply.Code != tt.code):
			t.Errorf("%s: verdict %+v, want %d", tt.name, v, tt.code)
		}
		if got := tt.s.Held(ctx, tt.user); got != tt.held {
			t.Errorf("%s: held %v, want %v", tt.name, got, tt.held)
		}
	}
	if err := s.Resume(ctx, "alice@example.test"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if v := s.CheckAuth(ctx, nil, "alice@example.test", true, true); v != nil {
		t.Fatalf("after resume: %+v", v)
	}
}
