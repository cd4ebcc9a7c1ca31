package testpeer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"postern/internal/testenv"
)

// Netns is a network namespace of a test's own: its loopback is up and
// its interface eth0 has the address Addr, on a network that exists only
// between the test's namespaces (NetnsNet). Nothing outside them can
// reach it, and it reaches nothing else.
type Netns struct {
	Name string // as `ip netns` lists it
	Addr string // 10.213.0.N, without a port
}

// NetnsNet is the network of the test's namespaces, never routed: the
// first namespace is 10.213.0.1, the second 10.213.0.2...
const NetnsNet = "10.213.0.0/24"

// StartNetns makes n namespaces (n at most 200) joined by a bridge. The
// bridge lives in one more namespace, the hub, which has no address. They
// are all deleted when the test ends, failed or not. Without `ip` or the
// right to make namespaces (not root) the test is skipped, failed under
// CI=true.
func StartNetns(t testing.TB, n int) []*Netns {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil || os.Geteuid() != 0 {
		testenv.Missing(t, "network namespaces need `ip` (iproute2) and root")
		return nil
	}
	var b [4]byte
	rand.Read(b[:])
	prefix := "postern-test-" + hex.EncodeToString(b[:])
	hub := prefix + "-hub"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			testenv.Missing(t, "ip %v: %v: %s", args, err, out)
		}
	}
	names := []string{hub}
	t.Cleanup(func() {
		for _, name := range names {
			exec.Command(ip, "netns", "del", name).Run()
		}
	})
	run("netns", "add", hub)
	run("-n", hub, "link", "add", "br0", "type", "bridge")
	run("-n", hub, "link", "set", "br0", "up")
	var all []*Netns
	for i := 1; i <= n; i++ {
		ns := &Netns{Name: fmt.Sprintf("%s-%d", prefix, i), Addr: fmt.Sprintf("10.213.0.%d", i)}
		names = append(names, ns.Name)
		port := fmt.Sprintf("p%d", i)
		run("netns", "add", ns.Name)
		run("-n", ns.Name, "link", "set", "lo", "up")
		run("-n", ns.Name, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", hub)
		run("-n", ns.Name, "addr", "add", ns.Addr+"/24", "dev", "eth0")
		run("-n", ns.Name, "link", "set", "eth0", "up")
		run("-n", hub, "link", "set", port, "master", "br0")
		run("-n", hub, "link", "set", port, "up")
		all = append(all, ns)
	}
	return all
}

// Command is exec.Command of name run inside the namespace (through `ip
// netns exec`, which execs it: its process is the program's own).
func (ns *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Do runs f on a thread that has entered the namespace: the sockets f
// opens (net.Dial, net.Listen) belong to the namespace and stay there
// after Do returns. f must not start goroutines that open sockets.
func (ns *Netns) Do(f func() error) error {
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer home.Close()
	target, err := os.Open("/run/netns/" + ns.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering %s: %w", ns.Name, err)
	}
	defer func() {
		// A thread that cannot go home stays locked: Go ends it with
		// the goroutine instead of reusing it.
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return f()
}

// Dial connects from inside the namespace.
func (ns *Netns) Dial(network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = net.DialTimeout(network, addr, 5*time.Second)
		return err
	})
	return c, err
}

// StartProgram is StartProgram with cmd run inside the namespace and the
// addresses in listen (the namespace's own) waited for from inside it.
// It runs as root: cmd's Dir and Env are kept, its SysProcAttr is not.
func (ns *Netns) StartProgram(t testing.TB, name string, cmd *exec.Cmd, stop os.Signal, listen ...string) *Program {
	t.Helper()
	inside := ns.wrap(cmd)
	var end func()
	if stop != nil {
		end = func() { inside.Process.Signal(stop) }
	}
	return startProgramDial(t, name, inside, end, ns.Dial, listen...)
}

// StartPostern is StartPostern inside the namespace: `bin serve -config
// cfg` until the test ends, ready once every address in listen answers
// from that postern's own process (read in the namespace's own socket
// table, /proc/PID/net/tcp).
func (ns *Netns) StartPostern(t testing.TB, name, bin, cfg string, listen ...string) *Program {
	t.Helper()
	return ns.startOwn(t, name, exec.Command(bin, "serve", "-config", cfg), syscall.SIGTERM, listen...)
}

// startOwn is StartProgram that waits until the addresses are held by
// the program's own process.
func (ns *Netns) startOwn(t testing.TB, name string, cmd *exec.Cmd, stop os.Signal, listen ...string) *Program {
	t.Helper()
	inside := ns.wrap(cmd)
	return startProgramOwn(t, name, inside, func() { inside.Process.Signal(stop) }, ns.Dial, true, listen...)
}

// wrap is cmd (not started) run inside the namespace, as root.
func (ns *Netns) wrap(cmd *exec.Cmd) *exec.Cmd {
	inside := ns.Command(cmd.Path, cmd.Args[1:]...)
	inside.Dir, inside.Env = cmd.Dir, cmd.Env
	return inside
}
