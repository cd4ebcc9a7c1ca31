package testpeer

import (
	"net"
	"os/exec"
	"testing"
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
	})
	for _, name := range names {
		if exec.Command("ip", "netns", "pids", name).Run() == nil {
			t.Errorf("namespace %s is still there after the test", name)
		}
	}
}
