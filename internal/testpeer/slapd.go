package testpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postern/internal/testenv"
)

// Slapd is a private OpenLDAP server for one test: Debian's slapd with
// the core and cosine schemas and sendmail's own LDAP schema (the
// sendmail.schema that Debian's sendmail-base ships, as a sendmail site
// loads it), one mdb database, on a loopback port.
type Slapd struct {
	// URL is ldap://127.0.0.1:PORT.
	URL string
	// Suffix is the database's base DN, BindDN and Password its manager.
	Suffix, BindDN, Password string
	// CA is the PEM of the CA that signed the directory's certificate,
	// for StartTLS; "" on loopback, where slapd has no TLS.
	CA string

	conf, addr string
	ns         *Netns // where slapd runs; nil: here, on loopback
	prog       *Program
}

// Where sendmail's schema comes from: the unpacked Debian sendmail of
// .ci/run (POSTERN_SENDMAIL_ROOT), never a copy of our own.
const sendmailSchema = "usr/share/sendmail/examples/ldap/sendmail.schema.v2"

// SendmailSchema returns the path of sendmail's LDAP schema, skipping or
// failing the test (under CI=true) when it is not there.
func SendmailSchema(t testing.TB) string {
	t.Helper()
	root := os.Getenv("POSTERN_SENDMAIL_ROOT")
	if root == "" {
		root = "/var/cache/postern-test/sendmail/root"
	}
	p := filepath.Join(root, sendmailSchema)
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "sendmail's LDAP schema %s (.ci/run unpacks Debian's sendmail-base there)", p)
	}
	return p
}

// StartSlapd loads ldif (entries below Suffix; the suffix entry itself is
// made here) with slapadd and starts slapd on a free loopback port. It
// stops when the test ends.
func StartSlapd(t testing.TB, ldif string) *Slapd {
	t.Helper()
	return startSlapd(t, ldif, nil, testenv.FreePort(t))
}

// StartSlapdIn is StartSlapd with slapd run inside the namespace ns, on
// its address and the LDAP port 389, offering StartTLS with a certificate
// for that address (CA is its CA), as a directory off loopback must.
func StartSlapdIn(t testing.TB, ldif string, ns *Netns) *Slapd {
	t.Helper()
	return startSlapd(t, ldif, ns, ns.Addr+":389")
}

func startSlapd(t testing.TB, ldif string, ns *Netns, addr string) *Slapd {
	t.Helper()
	slapd := testenv.LookPath(t, "slapd")
	slapadd := testenv.LookPath(t, "slapadd")
	schema := SendmailSchema(t)
	dir := t.TempDir()
	s := &Slapd{Suffix: "dc=example,dc=org", BindDN: "cn=admin,dc=example,dc=org", Password: "directory-secret",
		conf: filepath.Join(dir, "slapd.conf"), addr: addr, ns: ns}
	s.URL = "ldap://" + s.addr
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include %s
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %s/slapd.pid
database mdb
maxsize 67108864
suffix "%s"
rootdn "%s"
rootpw %s
directory %s/db
index objectClass,sendmailMTAMapName,sendmailMTAKey eq
`, schema, dir, s.Suffix, s.BindDN, s.Password, dir)
	if ns != nil {
		// TLS is global: before the database's lines.
		conf = strings.Replace(conf, "database mdb\n", s.tlsConf(t, dir)+"database mdb\n", 1)
	}
	testenv.WriteFile(t, s.conf, conf, 0o600)
	base := fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", s.Suffix)
	data := filepath.Join(dir, "data.ldif")
	testenv.WriteFile(t, data, base+strings.TrimSpace(ldif)+"\n", 0o600)
	if out, err := exec.Command(slapadd, "-f", s.conf, "-l", data).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	s.start(t, slapd)
	return s
}

// tlsConf writes a certificate for the directory's address, signed by a
// CA of the test's own (s.CA), and returns the slapd.conf lines that
// offer it with StartTLS.
func (s *Slapd) tlsConf(t testing.TB, dir string) string {
	t.Helper()
	host, _, _ := net.SplitHostPort(s.addr)
	s.CA = writeServerCert(t, dir, host)
	return fmt.Sprintf("TLSCertificateFile %s/cert.pem\nTLSCertificateKeyFile %s/key.pem\n", dir, dir)
}

func (s *Slapd) start(t testing.TB, slapd string) {
	t.Helper()
	// -d 0 keeps slapd in the foreground, where the test can stop it.
	cmd := exec.Command(slapd, "-f", s.conf, "-h", s.URL+"/", "-d", "0")
	if s.ns != nil {
		s.prog = s.ns.StartProgram(t, "slapd", cmd, syscall.SIGTERM, s.addr)
		return
	}
	s.prog = StartProgram(t, "slapd", cmd, syscall.SIGTERM, s.addr)
}

// Stop stops the directory, as an outage does; Start brings it back on
// the same address with the same data.
func (s *Slapd) Stop() { s.prog.Stop() }

// Start starts the directory again after Stop.
func (s *Slapd) Start(t testing.TB) {
	t.Helper()
	s.start(t, testenv.LookPath(t, "slapd"))
}
