package pgusers

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"postern/internal/pgmaps"
	"postern/internal/testpeer"
	"postern/internal/users"
)

// layout is the table of docs/maps.md.
const layout = `CREATE TABLE postern_users (
    address   text PRIMARY KEY,
    hash      text NOT NULL,
    suspended boolean NOT NULL DEFAULT false,
    revoked   boolean NOT NULL DEFAULT false,
    admin     boolean NOT NULL DEFAULT false
);
ALTER TABLE postern_users OWNER TO postern;`

func open(t *testing.T, src *Source, refresh, stale time.Duration) *users.Store {
	t.Helper()
	s, err := users.OpenOptions("", users.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Remote: &users.RemoteOptions{Remote: src, Refresh: refresh, Stale: stale, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestStore runs two Stores on one real table, as two nodes of a fleet:
// what one changes in a transaction the other sees at its next refresh;
// a bad row keeps the copy read before; a database down past the stale
// period leaves no user and says why, never a login.
func TestStore(t *testing.T) {
	p := testpeer.StartPostgres(t)
	p.Exec(t, layout)
	src, err := New(pgmaps.Options{URL: "postgres://" + p.User + "@" + p.Addr + "/postern?sslmode=disable", Password: p.Password, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	admin := open(t, src, time.Hour, time.Hour) // postern user, on one node
	if err := admin.Add("Alice@Example.TEST", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Add("alice@example.test", "x"); !errors.Is(err, users.ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	if got := p.Exec(t, "SELECT address, suspended, revoked, admin FROM postern_users"); !strings.Contains(got, "alice@example.test|f|f|f") {
		t.Fatalf("table after add: %q", got)
	}
	node := open(t, src, time.Second, 3*time.Second)
	if !node.Verify("alice@example.test", "alice-pw") || node.Verify("alice@example.test", "wrong") {
		t.Fatal("the user from the table does not log in with their password alone")
	}
	for _, step := range []struct {
		action string
		login  bool
	}{{"suspend", false}, {"resume", true}, {"grant-admin", true}, {"revoke", false}} {
		if err := admin.Apply(step.action, "alice@example.test", nil); err != nil {
			t.Fatalf("%s: %v", step.action, err)
		}
		if !admin.Verify("alice@example.test", "alice-pw") == step.login {
			t.Errorf("after %s the node that made it does not see it", step.action)
		}
		waitFor(t, step.action, func() bool { return node.Verify("alice@example.test", "alice-pw") == step.login })
	}
	if st := node.State("alice@example.test"); !st.Admin || !st.Revoked || st.Suspended {
		t.Errorf("state %+v, want an admin, revoked", st)
	}
	if err := admin.Passwd("alice@example.test", "new-pw"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "passwd", func() bool { return node.VerifyAdmin("alice@example.test", "new-pw") })
	if err := admin.Del("nobody@example.test"); !errors.Is(err, users.ErrNotFound) {
		t.Errorf("del of nobody: %v", err)
	}

	// A bad row refuses the copy: the users read before stay.
	p.Exec(t, "INSERT INTO postern_users (address, hash) VALUES ('bob@example.test', 'plaintext')")
	waitFor(t, "bad row", func() bool {
		err, _ := node.LoadError()
		return err != nil && strings.Contains(err.Error(), `row "bob@example.test": unknown hash scheme`)
	})
	if !node.Exists("alice@example.test") || node.UnavailableText() != "" {
		t.Error("a bad row dropped the users read before")
	}
	p.Exec(t, "DELETE FROM postern_users WHERE address = 'bob@example.test'")

	// Down past the stale period: no user, and the reason.
	p.Stop()
	waitFor(t, "stale", func() bool { return node.UnavailableText() != "" })
	if node.Exists("alice@example.test") || node.Verify("alice@example.test", "new-pw") {
		t.Error("a stale copy still answers")
	}
	if w := node.UnavailableText(); !strings.Contains(w, "table postern_users") || strings.Contains(w, p.Password) {
		t.Errorf("UnavailableText = %q", w)
	}
	if err := admin.Apply("suspend", "alice@example.test", nil); err == nil {
		t.Error("a change with the database down succeeded")
	}
	p.Start(t)
	waitFor(t, "back", func() bool { return node.Reload() == nil })
	if node.UnavailableText() != "" || !node.Exists("alice@example.test") {
		t.Errorf("after the database is back: %q", node.UnavailableText())
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not seen within 15s", what)
		}
	}
}
