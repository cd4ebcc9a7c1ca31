package server

import (
	"log/slog"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBindNoKeepAlive: connections accepted on a bound listener have no
// TCP keep-alive (the SMTP timeouts end idle sessions) and keep Go's
// TCP_NODELAY.
func TestBindNoKeepAlive(t *testing.T) {
	b, err := Bind(Request{SMTP: []Spec{{Name: "mta", Address: "127.0.0.1:0"}}}, nil, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ln := b.TCP[0].Listener
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var keep, nodelay int
	var gerr error
	raw.Control(func(fd uintptr) {
		keep, gerr = unix.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		if gerr == nil {
			nodelay, gerr = unix.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	if keep != 0 || nodelay == 0 {
		t.Errorf("SO_KEEPALIVE %d TCP_NODELAY %d; want 0 and 1", keep, nodelay)
	}
}
