package testpeer

import (
	"fmt"
	"net"
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
// port (or, with StartPostgresIn, a namespace's address) with password
// logins, and a database "postern" owned by the role "postern".
type Postgres struct {
	// Addr is "127.0.0.1:PORT" (or "NAMESPACE-ADDRESS:5432"); URL the
	// libpq URL of the postern role.
	Addr, URL string
	// User and Password are the postern role's.
	User, Password string
	// CA is the PEM of the CA that signed the server's certificate, for
	// sslmode=verify-full; "" on loopback, where the server has no TLS.
	CA string

	dir, host, port string
	ns              *Netns // where the server runs; nil: here, on loopback
	cred            *syscall.Credential
	prog            *Program
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
	return startPostgres(t, nil, testenv.FreePort(t))
}

// StartPostgresIn is StartPostgres with the server run inside the
// namespace ns, on its address and PostgreSQL's port 5432, as a database
// off loopback must be: with TLS (a certificate for that address, signed
// by CA) and password logins from the namespaces' network over TLS only.
// URL asks for sslmode=verify-full; a client adds sslrootcert=FILE, a
// file holding CA.
func StartPostgresIn(t testing.TB, ns *Netns) *Postgres {
	t.Helper()
	return startPostgres(t, ns, ns.Addr+":5432")
}

func startPostgres(t testing.TB, ns *Netns, addr string) *Postgres {
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
	host, port, _ := net.SplitHostPort(addr)
	p := &Postgres{Addr: addr, User: "postern", Password: "database-secret", dir: dir, host: host, port: port, ns: ns,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd := exec.Command(initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	mode := "disable"
	if ns != nil {
		p.tls(t)
		mode = "verify-full"
	}
	p.URL = fmt.Sprintf("postgres://%s:%s@%s/postern?sslmode=%s", p.User, p.Password, addr, mode)
	p.start(t, postgres)
	p.Admin(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", p.User, p.Password))
	p.Admin(t, "CREATE DATABASE postern OWNER "+p.User)
	return p
}

// tls gives the server a certificate for its address (p.CA its CA) and
// lets clients on the namespaces' network log in, over TLS only.
func (p *Postgres) tls(t testing.TB) {
	t.Helper()
	data := filepath.Join(p.dir, "data")
	p.CA = writeServerCert(t, data, p.host)
	for _, f := range []string{"cert.pem", "key.pem"} {
		// PostgreSQL reads its key only when its own user owns it.
		if err := os.Chown(filepath.Join(data, f), int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	appendFile(t, filepath.Join(data, "postgresql.conf"), "ssl = on\nssl_cert_file = 'cert.pem'\nssl_key_file = 'key.pem'\n")
	appendFile(t, filepath.Join(data, "pg_hba.conf"), "hostssl all all "+NetnsNet+" scram-sha-256\n")
}

// appendFile adds text at the end of the file at path.
func appendFile(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
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
	args := []string{"-D", filepath.Join(p.dir, "data"), "-c", "listen_addresses=" + p.host, "-p", p.port,
		"-c", "unix_socket_directories=" + p.dir, "-c", "fsync=off"}
	if p.ns != nil {
		// Inside a namespace the program starts as root: setpriv makes
		// it the postgres user (PostgreSQL refuses root).
		cmd := exec.Command(testenv.LookPath(t, "setpriv"), append([]string{"--reuid", strconv.Itoa(int(p.cred.Uid)),
			"--regid", strconv.Itoa(int(p.cred.Gid)), "--clear-groups", postgres}, args...)...)
		p.prog = p.ns.StartProgram(t, "postgres", cmd, syscall.SIGINT, p.Addr)
	} else {
		srv := exec.Command(postgres, args...)
		srv.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
		p.prog = StartProgram(t, "postgres", srv, syscall.SIGINT, p.Addr)
	}
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
