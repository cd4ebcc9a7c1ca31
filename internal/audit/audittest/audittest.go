// Package audittest helps the audit and import tests: it builds the
// postern binary, runs `postern serve` on loopback ports, and issues TLS
// certificates from a throw-away CA.
package audittest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/internal/testenv"
)

var build struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// Binary builds cmd/postern once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		// POSTERN_TEST_BINARY names an already built binary to use.
		if p := os.Getenv("POSTERN_TEST_BINARY"); p != "" {
			build.path = p
			return
		}
		dir, err := os.MkdirTemp("", "postern-audit-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "postern")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/postern")
		cmd.Dir = testenv.RepoRoot(t)
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("building postern: %v\n%s", build.err, build.out)
	}
	return build.path
}

// RequireCommand skips the test (fails under CI) when the postern binary
// has no subcommand called name.
func RequireCommand(t testing.TB, bin, name string) {
	t.Helper()
	out, _ := exec.Command(bin, "help").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return
		}
	}
	testenv.Missing(t, "postern has no %q command yet", name)
}

// FreePort returns "127.0.0.1:port" that nothing listened on a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	return testenv.FreePort(t)
}

// OpenTraversal makes dir and its parents below the temp root searchable
// (mode 0755) by the unprivileged user servers drop to.
func OpenTraversal(t testing.TB, dir string) {
	t.Helper()
	tmp := os.TempDir()
	for d := dir; strings.HasPrefix(d, tmp) && d != tmp; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// RunAs is the user postern drops to in tests: "nobody" when the tests
// run as root (postern refuses to keep root), else "".
func RunAs() string {
	if os.Geteuid() == 0 {
		return "nobody"
	}
	return ""
}

// ChownRunAs gives path to the RunAs user, so that postern can write it
// after dropping root.
func ChownRunAs(t testing.TB, path string) {
	t.Helper()
	name := RunAs()
	if name == "" {
		return
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	var uid, gid int
	fmt.Sscan(u.Uid, &uid)
	fmt.Sscan(u.Gid, &gid)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// Server is a running `postern serve`.
type Server struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Serve runs `postern serve -config cfg` until the test ends and waits
// until every address in wait accepts connections.
func Serve(t testing.TB, bin, cfg string, wait ...string) *Server {
	t.Helper()
	s := &Server{done: make(chan struct{}), out: &lockedBuffer{}}
	s.cmd = exec.Command(bin, "serve", "-config", cfg)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("postern serve output:\n%s", s.out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range wait {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.done:
				t.Fatalf("postern serve exited early:\n%s", s.out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("postern serve does not listen on %s:\n%s", addr, s.out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

// Output is what the server printed so far.
func (s *Server) Output() string { return s.out.String() }

// CA is a throw-away certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  []byte
	Pool *x509.CertPool
}

// NewCA makes a CA valid for a day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "postern test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	return ca
}

// Issue writes a certificate for names, valid until notAfter, and its key
// into dir, returning the two paths (readable by everyone but the key,
// which belongs to the RunAs user).
func (ca *CA) Issue(t testing.TB, dir string, notAfter time.Time, names ...string) (certFile, keyFile string) {
	t.Helper()
	return ca.issue(t, dir, notAfter, x509.ExtKeyUsageServerAuth, names...)
}

// IssueClient is Issue for a client certificate (client authentication).
func (ca *CA) IssueClient(t testing.TB, dir string, notAfter time.Time, names ...string) (certFile, keyFile string) {
	t.Helper()
	return ca.issue(t, dir, notAfter, x509.ExtKeyUsageClientAuth, names...)
}

func (ca *CA) issue(t testing.TB, dir string, notAfter time.Time, usage x509.ExtKeyUsage, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, names[0]+".crt")
	keyFile = filepath.Join(dir, names[0]+".key")
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.PEM...)
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
