package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mailFrom is the reply code to MAIL FROM:<addr> in a new session.
func mailFrom(t *testing.T, s *server, addr string) int {
	t.Helper()
	c := dialFrom(t, "127.0.0.2", s.MTA)
	c.must("EHLO client.test", 250)
	code, _ := c.cmd("MAIL FROM:<" + addr + ">")
	c.cmd("QUIT")
	return code
}

// changeRow finds the row of `postern changes list` for file whose
// result starts with result, and returns its number.
func changeRow(s *server, file, kind, result string) string {
	out, _ := s.postern("", "changes", "list")
	re := regexp.MustCompile(`(?m)^(\d+)\s+\S+ \S+\s+` + regexp.QuoteMeta(file) + `\s+\S+\s+` + kind + `\s+` + regexp.QuoteMeta(result))
	if m := re.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// Every change of a map and of the config file is recorded; a broken
// version never replaces a working one; rollback puts a good one back.
func TestChangeLog(t *testing.T) {
	dir := mapsDir(t, map[string]string{"access": "From:spam@bad.test REJECT\n"})
	access := filepath.Join(dir, "access")
	s := newServer(t, serverConfig{MapsDir: dir, Extra: opConfig(t, "")})
	admin := s.Admin
	s.start()
	goodConfig, err := os.ReadFile(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	first := changeRow(s, s.cfgPath, "first", "ok")
	if first == "" || changeRow(s, access, "first", "applied") == "" {
		out, _ := s.postern("", "changes", "list")
		t.Fatalf("the first versions are not recorded:\n%s", out)
	}

	// A valid edit: recorded, applied.
	writeMap(t, dir, "access", "From:spam@bad.test REJECT\nFrom:junk@bad.test REJECT\n")
	// Wait for the valid edit recorded.
	waitFor(t, func() bool { return changeRow(s, access, "change", "applied") != "" })
	// Wait for the valid edit applied.
	waitFor(t, func() bool { return mailFrom(t, s, "junk@bad.test") == 550 })
	good := changeRow(s, access, "change", "applied")
	out, err := s.postern("", "changes", "show", good)
	if err != nil || !strings.Contains(out, "+From:junk@bad.test REJECT") || !strings.Contains(out, "check:\n  ok") {
		t.Fatalf("changes show %s: %v\n%s", good, err, out)
	}

	// A broken edit: recorded as rejected; the old map still decides.
	writeMap(t, dir, "access", "From:spam@bad.test REJECT\nFrom:new@bad.test BOGUS\n")
	// Wait for the broken edit recorded.
	waitFor(t, func() bool { return changeRow(s, access, "change", "rejected:") != "" })
	if code := mailFrom(t, s, "junk@bad.test"); code != 550 {
		t.Fatalf("after a broken edit, MAIL FROM junk@bad.test got %d: the previous map is not in use", code)
	}
	// Wait for the broken map in /status problems.
	waitFor(t, func() bool {
		return strings.Contains(httpGet(t, "http://"+admin+"/status"), `unknown value \"BOGUS\"`)
	})

	// A broken config: postern reload says it is rejected; the server
	// serves on and lists it as a problem.
	broken := string(goodConfig) + "\nthis is = = not toml\n"
	if err := os.WriteFile(s.cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	// The server (not root) sees the change but cannot read the file.
	// Wait for the unchecked config in /status problems.
	waitFor(t, func() bool {
		return strings.Contains(httpGet(t, "http://"+admin+"/status"), "is not checked yet")
	})
	out, err = s.postern("", "reload")
	if err == nil || !strings.Contains(out, s.cfgPath+": rejected:") || !strings.Contains(out, "postern rollback "+first) {
		t.Fatalf("postern reload with a broken config: %v\n%s", err, out)
	}
	if code := mailFrom(t, s, "spam@bad.test"); code != 550 {
		t.Fatalf("server after the broken config: MAIL FROM got %d", code)
	}
	if st := httpGet(t, "http://"+admin+"/status"); !strings.Contains(st, s.cfgPath+": change ") {
		t.Fatalf("the rejected config is not in /status problems:\n%s", st)
	}
	// A start with it is refused, naming the last good version.
	if out, err := s.postern("", "serve"); err == nil || !strings.Contains(out, "postern rollback "+first) {
		t.Fatalf("serve with the broken config: %v\n%s", err, out)
	}

	// Roll both back to their good versions: the map first, as the
	// config's check reads the maps too.
	for _, n := range []string{good, first} {
		if out, err := s.postern("", "rollback", n); err != nil || !strings.Contains(out, "put back to the version of change "+n) {
			t.Fatalf("rollback %s: %v\n%s", n, err, out)
		}
	}
	if data, _ := os.ReadFile(s.cfgPath); string(data) != string(goodConfig) {
		t.Fatalf("the config file is not the good version again:\n%s", data)
	}
	if fi, err := os.Stat(s.cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the config file's mode after rollback: %v %v", fi.Mode(), err)
	}
	if changeRow(s, s.cfgPath, "rollback", "ok") == "" || changeRow(s, access, "rollback", "applied") == "" {
		out, _ := s.postern("", "changes", "list")
		t.Fatalf("the rollbacks are not recorded:\n%s", out)
	}
	// Wait for the problems cleared.
	waitFor(t, func() bool {
		st := httpGet(t, "http://"+admin+"/status")
		return !strings.Contains(st, "BOGUS") && !strings.Contains(st, "rejected") && !strings.Contains(st, "not checked")
	})
	if code := mailFrom(t, s, "junk@bad.test"); code != 550 {
		t.Fatalf("after rollback, MAIL FROM junk@bad.test got %d", code)
	}
	if code := mailFrom(t, s, "new@bad.test"); code != 250 {
		t.Fatalf("after rollback, MAIL FROM new@bad.test got %d", code)
	}
	if logs := s.logs(); !strings.Contains(logs, "change rejected; the running version stays") {
		t.Fatalf("the rejection is not logged:\n%s", logs)
	}
}
