package test

import (
	"strings"
	"testing"
)

// postern explain tells the decision and the rule, from the same policy
// code the server runs.
func TestExplain(t *testing.T) {
	s := newServer(t, serverConfig{Trusted: []string{"127.0.0.1/32"}})
	s.addUser("alice@example.test", "pw")
	tests := []struct {
		args []string
		ok   bool
		want []string
	}{
		{[]string{"-client", "127.0.0.2", "-rcpt", "x@elsewhere.test"}, false,
			[]string{"550 5.7.1 relay access denied", "client 127.0.0.2 is not in trusted_networks"}},
		{[]string{"-client", "127.0.0.1", "-rcpt", "x@elsewhere.test"}, true,
			[]string{"250 2.1.5 OK (outbound", "in trusted_networks 127.0.0.1/32"}},
		{[]string{"-client", "127.0.0.2", "-auth", "alice@example.test", "-rcpt", "x@elsewhere.test"}, true,
			[]string{"authenticated as alice@example.test"}},
		{[]string{"-client", "127.0.0.2", "-rcpt", "alice@example.test", "-rcpt", "nobody@example.test"}, false,
			[]string{"local user alice@example.test", "550 5.1.1", "no mailbox nobody@example.test"}},
		{[]string{"-client", "127.0.0.2", "-rcpt", `"x@elsewhere.test"@example.test`}, false,
			[]string{"550 5.1.1"}},
		{[]string{"-client", "127.0.0.2", "-rcpt", "x%elsewhere.test@example.test"}, false,
			[]string{"550 5.1.1"}},
	}
	for _, tt := range tests {
		out, err := s.postern("", append([]string{"explain"}, tt.args...)...)
		if (err == nil) != tt.ok {
			t.Errorf("explain %v: err %v\n%s", tt.args, err, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("explain %v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}
