package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"postern/internal/testenv"
)

// StartOpenDKIM runs Debian's opendkim in the foreground as a milter on
// a loopback port, with conf (its Mode, keys and other settings) plus
// its Socket, its resolver pointed at the DNS server dnsAddr and no
// syslog. It returns the milter's "127.0.0.1:port" once opendkim
// listens, and kills opendkim when the test ends.
func StartOpenDKIM(t testing.TB, conf, dnsAddr string) string {
	t.Helper()
	opendkim := testenv.LookPath(t, "opendkim")
	addr := testenv.FreePort(t)
	host, port, _ := strings.Cut(addr, ":")
	path := filepath.Join(t.TempDir(), "opendkim.conf")
	text := conf + fmt.Sprintf("Socket inet:%s@%s\n", port, host) + openDKIMResolver(dnsAddr)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	StartProgram(t, "opendkim", exec.Command(opendkim, "-f", "-x", path), nil, addr)
	return addr
}

// openDKIMResolver is opendkim's configuration for its resolver
// (libunbound) to ask the DNS server dnsAddr (unbound's "address@port"
// form), and for no syslog.
func openDKIMResolver(dnsAddr string) string {
	host, port, _ := strings.Cut(dnsAddr, ":")
	return fmt.Sprintf("Nameservers %s@%s\nSyslog no\n", host, port)
}

// OpenDKIMVerify checks the signatures of msg with opendkim's test mode
// (-t), its resolver pointed at the DNS server dnsAddr, and returns what
// opendkim reports, its Authentication-Results included.
func OpenDKIMVerify(t testing.TB, dnsAddr, msg string) string {
	t.Helper()
	opendkim := testenv.LookPath(t, "opendkim")
	dir := t.TempDir()
	conf := filepath.Join(dir, "verify.conf")
	if err := os.WriteFile(conf, []byte("Mode v\nAlwaysAddARHeader yes\n"+openDKIMResolver(dnsAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(file, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(opendkim, "-x", conf, "-vv", "-t", file).CombinedOutput()
	if err != nil {
		t.Fatalf("opendkim -t: %v\n%s", err, out)
	}
	return string(out)
}

// dkimpyVerify runs dkimpy's own dkimverify entry point once per
// signature index given, with dnspython's default resolver pointed at
// the loopback DNS server; it prints one line per index.
const dkimpyVerify = `import io, sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
dns.resolver.default_resolver = r
from dkim.dkimverify import main
msg = sys.stdin.buffer.read()
for index in sys.argv[3:]:
    sys.argv = ["dkimverify", "--index", index]
    sys.stdin = io.TextIOWrapper(io.BytesIO(msg))
    try:
        main()
    except SystemExit:
        pass
    sys.stdout.flush()
`

// DkimpyVerify checks the signatures of msg at indexes (0 the first)
// with dkimpy's dkimverify (python3-dkim), its keys read through
// dnspython from the DNS server dnsAddr, and returns dkimverify's output:
// one line a signature, "signature ok" when it verifies.
func DkimpyVerify(t testing.TB, dnsAddr, msg string, indexes ...int) (string, error) {
	t.Helper()
	python := scriptInterpreter(t, testenv.LookPath(t, "dkimverify"))
	script := filepath.Join(t.TempDir(), "verify.py")
	if err := os.WriteFile(script, []byte(dkimpyVerify), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(dnsAddr, ":")
	args := []string{script, host, port}
	for _, i := range indexes {
		args = append(args, strconv.Itoa(i))
	}
	cmd := exec.Command(python, args...)
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// scriptInterpreter returns the program named on a script's #! line
// (the Python that has the dkim module, for dkimverify).
func scriptInterpreter(t testing.TB, script string) string {
	t.Helper()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(f) == 0 {
		t.Fatalf("%s has no #! line", script)
	}
	if strings.HasSuffix(f[0], "/env") && len(f) > 1 {
		return testenv.LookPath(t, f[1])
	}
	return f[0]
}
