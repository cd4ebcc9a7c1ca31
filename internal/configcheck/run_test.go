package configcheck

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/config"
	"postern/internal/dkim"
	"postern/internal/dkimkeys"
	"postern/internal/testenv"
)

// check loads the configuration at path, as postern check does, and
// runs every check.
func check(w, errw io.Writer, path string) int {
	cfg, warnings, err := config.Load(path)
	return Run(w, errw, cfg, warnings, err)
}

func TestCheck(t *testing.T) {
	dir := testenv.OpenTempDir(t)
	cfgPath := filepath.Join(dir, "postern.toml")
	good := "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\nlocal_domains = [\"example.test\"]\n" +
		"trusted_networks = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n[[listener]]\naddress = \"127.0.0.1:2525\"\nmode = \"mta\"\n"
	testenv.WriteFile(t, cfgPath, good, 0o600)

	run := func() (int, string, string) {
		var out, errw bytes.Buffer
		code := check(&out, &errw, cfgPath)
		return code, out.String(), errw.String()
	}
	code, out, errs := run()
	if code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("good config: code %d, out %q, err %q", code, out, errs)
	}
	if !strings.Contains(errs, cfgPath+":5: warning: trusted_networks: 10.0.0.0/8") {
		t.Errorf("warning missing: %q", errs)
	}

	// Every problem of the file at once, with lines.
	testenv.WriteFile(t, cfgPath, good+"bogus = 1\n[limits]\nmax_errors = \"x\"\n", 0o600)
	code, out, errs = run()
	if code != 1 || out != "" {
		t.Errorf("bad config: code %d, out %q", code, out)
	}
	for _, want := range []string{cfgPath + ":9: unknown key listener[0].bogus", cfgPath + ":11: limits.max_errors must be an integer", "2 problem(s)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in %q", want, errs)
		}
	}

	// Permissions, maps and the users file are checked too.
	testenv.WriteFile(t, cfgPath, good, 0o664)
	testenv.WriteFile(t, filepath.Join(dir, "access"), "Connect:192.0.2.1 MAYBE\n", 0o644)
	os.Mkdir(filepath.Join(dir, "data"), 0o700)
	testenv.WriteFile(t, filepath.Join(dir, "data", "users"), "alice@example.test:plain\n", 0o644)
	testenv.GiveToServiceUser(t, filepath.Join(dir, "data"))
	code, _, errs = run()
	if code != 1 {
		t.Errorf("code %d, want 1", code)
	}
	for _, want := range []string{
		cfgPath + " is writable by group or others",
		filepath.Join(dir, "access") + ":1:",
		filepath.Join(dir, "data", "users") + ": readable by group or others",
		filepath.Join(dir, "data", "users") + ":1: alice@example.test: unknown hash scheme",
		"4 problem(s)",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
}

// Run as root, check reads the maps and the data dir as the service
// user would, and names each file that user cannot read.
func TestCheckAsServiceUser(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to check files as the service user")
	}
	dir := testenv.OpenTempDir(t)
	cfgPath := filepath.Join(dir, "postern.toml")
	testenv.WriteFile(t, cfgPath, "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\nmaps_dir = \".\"\n", 0o600)
	access := filepath.Join(dir, "access")
	testenv.WriteFile(t, access, "Connect:127.0.0.5 REJECT\n", 0o600)
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(data, "dkim", "example.test"), 0o700)
	testenv.WriteFile(t, filepath.Join(data, "users"), "", 0o600)
	testenv.GiveToServiceUser(t, data)
	key := filepath.Join(data, "dkim", "example.test", "s1.key")
	testenv.WriteFile(t, key, "x", 0o600) // written as root, not given
	counts := filepath.Join(data, "tlsrpt", "2026-03-09.json")
	os.MkdirAll(filepath.Dir(counts), 0o750)
	testenv.GiveToServiceUser(t, filepath.Dir(counts))
	testenv.WriteFile(t, counts, "{}", 0o600) // written as root, not given
	var out, errw bytes.Buffer
	if code := check(&out, &errw, cfgPath); code != 1 {
		t.Fatalf("code %d, want 1; out %q err %q", code, out.String(), errw.String())
	}
	for _, want := range []string{
		access + ": permission denied (the server runs as nobody",
		"run postern set-permissions -config " + cfgPath,
		key + ": permission denied",
		"TLS report store: open " + counts + ": permission denied (postern serve would not start",
	} {
		if !strings.Contains(errw.String(), want) {
			t.Errorf("missing %q in:\n%s", want, errw.String())
		}
	}
	// Once the files are the server's, the check passes.
	os.Chmod(access, 0o644)
	testenv.GiveToServiceUser(t, data)
	out.Reset()
	errw.Reset()
	if code := check(&out, &errw, cfgPath); code != 0 {
		t.Fatalf("after the fix: code %d, err %q", code, errw.String())
	}
}

func TestCheckTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	testenv.WriteFile(t, cfgPath, "hostname = \"mx.example.test\"\nuser = \"nobody\"\ndata_dir = \"data\"\n[tls]\ncert = \"missing.pem\"\nkey = \"key.pem\"\n", 0o600)
	var out, errw bytes.Buffer
	if code := check(&out, &errw, cfgPath); code != 1 || !strings.Contains(errw.String(), filepath.Join(dir, "missing.pem")) {
		t.Errorf("missing cert: code %d, %q", code, errw.String())
	}
}

func TestCheckEmbeddedDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, errw bytes.Buffer
	if code := check(&out, &errw, ""); code != 0 || !strings.Contains(out.String(), "config OK: (embedded default)") {
		t.Errorf("embedded default: code %d, out %q, err %q", code, out.String(), errw.String())
	}
}

// A TLS report day file that does not parse stops serve; check says so,
// and says nothing when [tlsrpt] is off.
func TestCheckTLSReportStore(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	const cfg = "hostname = \"mx.example.test\"\ndata_dir = \"data\"\nmaps_dir = \".\"\n"
	testenv.WriteFile(t, cfgPath, cfg, 0o600)
	counts := filepath.Join(dir, "data", "tlsrpt", "2026-03-09.json")
	os.MkdirAll(filepath.Dir(counts), 0o700)
	testenv.WriteFile(t, counts, `{"domains": `, 0o600)
	var out, errw bytes.Buffer
	if code := check(&out, &errw, cfgPath); code != 1 || !strings.Contains(errw.String(), "TLS report store "+counts) ||
		!strings.Contains(errw.String(), "postern serve would not start") {
		t.Errorf("torn day file: code %d, %q", code, errw.String())
	}
	testenv.WriteFile(t, cfgPath, cfg+"[tlsrpt]\nenabled = false\n", 0o600)
	out.Reset()
	errw.Reset()
	if code := check(&out, &errw, cfgPath); code != 0 {
		t.Errorf("[tlsrpt] off: code %d, %q", code, errw.String())
	}
}

// [arc] seal needs an active RSA key for seal_domain: check finds it as
// the server will, and says how to make one.
func TestCheckARCSealKey(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "postern.toml")
	const cfg = "hostname = \"mx.example.test\"\ndata_dir = \"data\"\nmaps_dir = \".\"\nlocal_domains = [\"example.test\"]\n" +
		"[dkim]\nactivate_after = \"1ms\"\n[arc]\nseal = true\n"
	testenv.WriteFile(t, cfgPath, cfg, 0o600)
	os.MkdirAll(filepath.Join(dir, "data", "dkim"), 0o700)
	var out, errw bytes.Buffer
	if code := check(&out, &errw, cfgPath); code != 1 || !strings.Contains(errw.String(), "arc.seal:") ||
		!strings.Contains(errw.String(), "postern dkim keygen -domain example.test") {
		t.Fatalf("no key: code %d, %q", code, errw.String())
	}
	k := &dkimkeys.Keys{Dir: filepath.Join(dir, "data", "dkim"), ActivateAfter: time.Millisecond}
	if err := k.Keygen("example.test", "s1", dkim.AlgoRSA, io.Discard); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	out.Reset()
	errw.Reset()
	if code := check(&out, &errw, cfgPath); code != 0 {
		t.Errorf("with an RSA key: code %d, %q", code, errw.String())
	}
}

// The shared backend's check: a password file others may read is a
// problem (the server would not start), a backend away a warning.
func TestSharedState(t *testing.T) {
	loose := filepath.Join(t.TempDir(), "loose.password")
	testenv.WriteFile(t, loose, "secret\n", 0o644)
	tests := []struct {
		name             string
		rl               config.RateLimit
		problem, warning string
	}{
		{"memory", config.RateLimit{Backend: "memory"}, "", ""},
		{"redis down", config.RateLimit{Backend: "redis", RedisURL: "redis://127.0.0.1:1/0", OnBackendError: "fail_open"},
			"", "the redis backend does not answer"},
		{"password file readable by all", config.RateLimit{Backend: "postgres", PostgresURL: "postgres://postern@127.0.0.1:1/postern",
			PostgresPasswordFile: loose}, "is readable by every user: chmod 0640", ""},
		{"postgres down", config.RateLimit{Backend: "postgres", PostgresURL: "postgres://postern:pw@127.0.0.1:1/postern?sslmode=disable"},
			"", "the postgres backend does not answer"},
	}
	for _, tt := range tests {
		r := SharedState(&config.Config{RateLimit: tt.rl})
		got := strings.Join(r.Problems, "\n")
		if tt.problem == "" && got != "" || !strings.Contains(got, tt.problem) {
			t.Errorf("%s: problems %q, want %q", tt.name, got, tt.problem)
		}
		got = strings.Join(r.Warnings, "\n")
		if tt.warning == "" && got != "" || !strings.Contains(got, tt.warning) {
			t.Errorf("%s: warnings %q, want %q", tt.name, got, tt.warning)
		}
	}
}
