package testpeer

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"postern/internal/procnet"
)

// TestNetns: two namespaces reach each other on their addresses, which
// are not the test's own, and they are gone at the end.
func TestNetns(t *testing.T) {
	var names []string
	t.Run("namespaces", func(t *testing.T) {
		nss := StartNetns(t, 2)
		for _, ns := range nss {
			names = append(names, ns.Name)
		}
		var ln net.Listener
		if err := nss[0].Do(func() (err error) { ln, err = net.Listen("tcp", nss[0].Addr+":2525"); return err }); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Write([]byte(c.RemoteAddr().String()))
				c.Close()
			}
		}()
		c, err := nss[1].Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Close()
		if host, _, _ := net.SplitHostPort(string(buf[:n])); host != nss[1].Addr {
			t.Errorf("the listener in %s saw the client as %q, want %s", nss[0].Name, buf[:n], nss[1].Addr)
		}
		// The address is not the test's own: it cannot listen on it.
		// (Never dial it from here: that would leave the machine.)
		if l, err := net.Listen("tcp", nss[0].Addr+":2526"); err == nil {
			l.Close()
			t.Errorf("%s is an address outside the namespaces too", nss[0].Addr)
		}
		if out, err := nss[1].Command("ip", "-brief", "addr", "show", "eth0").CombinedOutput(); err != nil {
			t.Errorf("ip netns exec: %v\n%s", err, out)
		}
		// A program inside is found holding its port in the
		// namespace's own socket table.
		if _, err := os.Stat("/usr/bin/python3"); err == nil {
			addr := nss[1].Addr + ":2527"
			script := "import socket, time\ns = socket.socket()\ns.bind((\"" + nss[1].Addr + "\", 2527))\ns.listen()\ntime.sleep(3600)\n"
			p := nss[1].startOwn(t, "python3", exec.Command("/usr/bin/python3", "-c", script), syscall.SIGTERM, addr)
			if held, err := procnet.Proc("/proc").HeldBy(p.Cmd.Process.Pid, addr); !held {
				t.Errorf("%s not held by process %d inside %s: %v", addr, p.Cmd.Process.Pid, nss[1].Name, err)
			}
		}
	})
	for _, name := range names {
		if exec.Command("ip", "netns", "pids", name).Run() == nil {
			t.Errorf("namespace %s is still there after the test", name)
		}
	}
}
