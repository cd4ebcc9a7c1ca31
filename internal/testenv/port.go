package testenv

import (
	"net"
	"sync"
	"testing"
)

// portsGiven are the loopback ports FreePort has handed out in this test
// process: the kernel may offer a port again once its probe socket is
// closed, and two servers of one test (or two listeners of one server)
// must not be given the same one.
var portsGiven = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// FreePort returns "127.0.0.1:port", a port nothing listened on a moment
// ago and that FreePort has not handed out before in this process.
func FreePort(t testing.TB) string {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		portsGiven.Lock()
		given := portsGiven.m[addr]
		portsGiven.m[addr] = true
		portsGiven.Unlock()
		if !given {
			return addr
		}
	}
	t.Fatal("testenv: no free loopback port that was not handed out before")
	return ""
}
