package testpeer

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"postern/internal/testenv"
)

// policydSPFConf is policyd-spf's configuration for the tests: refuse
// mail whose MAIL FROM fails SPF (550 at RCPT), add Received-SPF
// otherwise, leave HELO alone, and check loopback clients too (the
// packaged file skips 127.0.0.0/8).
const policydSPFConf = `debugLevel = 1
TestOnly = 1
HELO_reject = False
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 192.0.2.255/32
Header_Type = SPF
`

// policydSPFLauncher runs the installed policyd-spf with its DNS lookups
// sent to the test's server: policyd-spf has no setting for that, so the
// launcher sets the default resolver of dnspython (through which pyspf
// looks everything up) and then runs the program itself.
const policydSPFLauncher = `import runpy, sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [%q]
r.port = %s
r.lifetime = 5
dns.resolver.default_resolver = r
sys.argv = ["policyd-spf", %q]
runpy.run_path(%q, run_name="__main__")
`

// PolicydSPF is Debian's policyd-spf (package postfix-policyd-spf-python)
// serving Postfix's policy protocol on a loopback port: one process per
// connection, as Postfix's spawn(8) runs it, each killed when the test
// ends.
type PolicydSPF struct {
	Addr string // for check_policy_service inet:ADDR

	out  output
	mu   sync.Mutex
	cmds []*exec.Cmd
}

// StartPolicydSPF serves policyd-spf with its lookups going to the DNS
// server at dnsAddr. Without policyd-spf the test is skipped (failed
// under CI=true).
func StartPolicydSPF(t testing.TB, dnsAddr string) *PolicydSPF {
	t.Helper()
	prog := testenv.LookPath(t, "policyd-spf")
	python := scriptInterpreter(t, prog) // the Python its modules are installed for
	conf := filepath.Join(t.TempDir(), "policyd-spf.conf")
	testenv.WriteFile(t, conf, policydSPFConf, 0o644)
	host, port, _ := strings.Cut(dnsAddr, ":")
	launcher := fmt.Sprintf(policydSPFLauncher, host, port, conf, prog)
	p := &PolicydSPF{}
	peer := ServeTCP(t, func(c net.Conn) {
		// The socket itself is the program's standard input and output,
		// as inetd and spawn(8) hand it over.
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			fmt.Fprintf(&p.out, "policyd-spf socket: %v\n", err)
			return
		}
		defer f.Close()
		cmd := exec.Command(python, "-c", launcher)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, &p.out
		p.mu.Lock()
		err = cmd.Start()
		if err == nil {
			p.cmds = append(p.cmds, cmd)
		}
		p.mu.Unlock()
		if err != nil {
			fmt.Fprintf(&p.out, "starting policyd-spf: %v\n", err)
			return
		}
		cmd.Wait()
	})
	p.Addr = peer.Addr
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.cmds {
			c.Process.Kill()
		}
		if t.Failed() {
			t.Logf("policyd-spf output:\n%s", p.out.String())
		}
	})
	return p
}

// Output is what the policyd-spf processes wrote to their standard
// error so far.
func (p *PolicydSPF) Output() string { return p.out.String() }
