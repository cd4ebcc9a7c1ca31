package deliver

import (
	"context"
	"strings"
	"testing"

	"postern/internal/dnstest"
)

// Mail for a domain we are a backup MX for goes to its primary, the MX
// more preferred than we are, even with a smarthost; the rest goes to
// the smarthost.
func TestBackupMXDirect(t *testing.T) {
	primary := startReceiver(t, &receiver{})
	smarthost := startReceiver(t, &receiver{})
	r := newRemote(t, dnstest.Zone{
		"backup.example. MX":      {"10 mx1.backup.example.", "20 postern.example."},
		"mx1.backup.example. A":   {"127.0.0.1"},
		"postern.example. A":      {"127.0.0.2"},
		"elsewhere.example. MX":   {"10 mx.elsewhere.example."},
		"mx.elsewhere.example. A": {"127.0.0.3"},
	}, primary.Port)
	r.Smarthost = &Hop{Host: "127.0.0.1", Port: smarthost.Port, NoMX: true}
	r.Direct = func(d string) bool { return d == "backup.example" }
	env, rcpts, body := message("B1", "a@example.org", body1, "bob@backup.example", "carol@elsewhere.example")
	for i, err := range r.Deliver(context.Background(), env, rcpts, body) {
		if err != nil {
			t.Errorf("rcpt %d: %v", i, err)
		}
	}
	if got := strings.Join(primary.Commands(), " "); !strings.Contains(got, "RCPT TO:<bob@backup.example>") || strings.Contains(got, "carol") {
		t.Errorf("the primary saw %s", got)
	}
	if got := strings.Join(smarthost.Commands(), " "); !strings.Contains(got, "RCPT TO:<carol@elsewhere.example>") || strings.Contains(got, "bob") {
		t.Errorf("the smarthost saw %s", got)
	}
}
