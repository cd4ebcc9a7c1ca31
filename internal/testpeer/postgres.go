package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/testenv"
)

// Postgres is a private PostgreSQL server for one test: Debian's
// postgresql, a cluster made with initdb in the test's temp dir, run as
// the postgres user (PostgreSQL refuses root), listening on a loopback
// port with password logins, and a database "postern" owned by the role
// "postern".
type Postgres struct {
	// Addr is "127.0.0.1:PORT"; URL the libpq URL of the postern role.
	Addr, URL string
	// User and Password are the postern role's.
	User, Password string

	dir, port string
	cred      *syscall.Credential
	prog      *Program
}

// pgBin is where Debian's postgresql puts the server programs.
func pgBin(t testing.TB, name string) string {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		testenv.Missing(t, "PostgreSQL's %s (install the Debian package postgresql)", name)
		return ""
	}
	return matches[len(matches)-1]
}

// StartPostgres makes and starts the cluster; it stops when the test
// ends. Without postgresql the test is skipped (failed under CI=true).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	initdb, postgres := pgBin(t, "initdb"), pgBin(t, "postgres")
	testenv.LookPath(t, "psql")
	u, err := user.Lookup("postgres")
	if err != nil {
		testenv.Missing(t, "the postgres user (install the Debian package postgresql)")
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := testenv.OpenTempDir(t)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreePort(t)
	p := &Postgres{Addr: addr, User: "postern", Password: "database-secret", dir: dir,
		port: addr[strings.LastIndexByte(addr, ':')+1:], cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	p.URL = fmt.Sprintf("postgres://%s:%s@%s/postern?sslmode=disable", p.User, p.Password, addr)
	cmd := exec.Command(initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.start(t, postgres)
	p.Admin(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", p.User, p.Password))
	p.Admin(t, "CREATE DATABASE postern OWNER "+p.User)
	return p
}

// Admin runs SQL as the superuser over the cluster's socket, failing the
// test on an error, and returns psql's unaligned output.
func (p *Postgres) Admin(t testing.TB, sql string) string {
	t.Helper()
	return p.psql(t, "postgres", "postgres", sql)
}

// Exec runs SQL in the postern database as the postern role's owner.
func (p *Postgres) Exec(t testing.TB, sql string) string {
	t.Helper()
	return p.psql(t, "postgres", "postern", sql)
}

func (p *Postgres) psql(t testing.TB, role, db, sql string) string {
	t.Helper()
	cmd := exec.Command(testenv.LookPath(t, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", p.dir, "-p", p.port, "-U", role, "-d", db, "-c", sql)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Stop stops the server, as an outage does; Start brings it back.
func (p *Postgres) Stop() { p.prog.Stop() }

// Start starts the server again after Stop.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	p.start(t, pgBin(t, "postgres"))
}

// start runs the server in the foreground; SIGINT is its fast shutdown.
func (p *Postgres) start(t testing.TB, postgres string) {
	t.Helper()
	srv := exec.Command(postgres, "-D", filepath.Join(p.dir, "data"), "-c", "listen_addresses=127.0.0.1", "-p", p.port,
		"-c", "unix_socket_directories="+p.dir, "-c", "fsync=off")
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	p.prog = StartProgram(t, "postgres", srv, syscall.SIGINT, p.Addr)
	// It listens before it takes connections ("the database system is
	// starting up"): wait until pg_isready says it accepts them.
	ready := pgBin(t, "pg_isready")
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command(ready, "-q", "-h", p.dir, "-p", p.port, "-U", "postgres")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
		if cmd.Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on %s does not accept connections after 30s", p.Addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
