package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOwnServer(t *testing.T) {
	for _, c := range []struct {
		mta, sub, domains []string
		want              Own
	}{
		{nil, nil, nil, Own{Submission: -1}},
		{[]string{":25"}, nil, []string{"example.test", "b.example"}, Own{Target: "127.0.0.1:25", Submission: 0, Domain: "example.test"}},
		{[]string{"bad", "[::]:2525"}, []string{"0.0.0.0:587", ":465"}, nil, Own{Target: "[::1]:2525", Submission: 587}},
		{[]string{"192.0.2.1:25"}, []string{"x:smtp", "127.0.0.1:588"}, nil, Own{Target: "192.0.2.1:25", Submission: 588}},
		{nil, []string{"127.0.0.1:587"}, nil, Own{Submission: 587}},
	} {
		if got := OwnServer(c.mta, c.sub, c.domains); got != c.want {
			t.Errorf("%q %q %q: %+v, want %+v", c.mta, c.sub, c.domains, got, c.want)
		}
	}
}

func TestLoopbackTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.1:25": true, "[::1]:2525": true, "::1": true,
		"192.0.2.1:25": false, "mx.example.test:25": false, "localhost": false, "": false,
	} {
		if got := LoopbackTarget(target); got != want {
			t.Errorf("%q: %v", target, got)
		}
	}
}

func TestReadRootCAs(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := ReadRootCAs(bad); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("not PEM: %v", err)
	}
	if _, err := ReadRootCAs(filepath.Join(dir, "none.pem")); err == nil {
		t.Error("missing file accepted")
	}
}
