package deliver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/smtp"
)

// A message with Folder "Junk" goes to the Maildir++ folder .Junk of the
// recipient's Maildir, not its inbox; a folder name that could make an
// odd path is refused.
func TestLocalJunkFolder(t *testing.T) {
	root := t.TempDir()
	l := &Local{Mailbox: root + "/{domain}/{user}/"}
	body := "Subject: t\r\n\r\nspam?\r\n"
	env := testEnv(body, "alice@example.test")
	env.Folder = "Junk"
	if errs := l.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(body)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	junk, _ := filepath.Glob(filepath.Join(root, "example.test", "alice", ".Junk", "new", "*"))
	inbox, _ := filepath.Glob(filepath.Join(root, "example.test", "alice", "new", "*"))
	if len(junk) != 1 || len(inbox) != 0 {
		t.Fatalf(".Junk/new: %v, new: %v", junk, inbox)
	}
	for _, sub := range []string{"tmp", "cur"} {
		if fi, err := os.Stat(filepath.Join(root, "example.test", "alice", ".Junk", sub)); err != nil || !fi.IsDir() {
			t.Errorf(".Junk/%s missing: %v", sub, err)
		}
	}
	for _, bad := range []string{"../x", ".Junk", "a/b", "Junk\x00", " "} {
		env := testEnv(body, "bob@example.test")
		env.Folder = bad
		errs := l.Deliver(context.Background(), env, env.Rcpts, strings.NewReader(body))
		var r *smtp.Reply
		if errs[0] == nil || !errors.As(errs[0], &r) {
			t.Errorf("folder %q: %v, want a refusal", bad, errs[0])
		}
	}
	if m, _ := filepath.Glob(filepath.Join(root, "example.test", "bob", "*", "*")); len(m) != 0 {
		t.Errorf("bad folder names wrote %v", m)
	}
}
