package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"postern/internal/procnet"
)

// A port this process holds: the error names the address, the holder
// (this process, found by its descriptors) and the fix.
func TestListenInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.Addr().String()
	ln, err := Listen("/proc", "[admin] address", addr, `or address = "" for none`)
	if err == nil {
		ln.Close()
		t.Fatalf("Listen(%s) succeeded on a held port", addr)
	}
	var le *ListenError
	if !errors.As(err, &le) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err = %#v, want a *ListenError wrapping EADDRINUSE", err)
	}
	want := fmt.Sprintf("[admin] address %s cannot be opened: the address is already in use by process %d (", addr, os.Getpid())
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, `; set [admin] address to a free address of this host, or address = "" for none`) {
		t.Fatalf("message:\n%s\nwant it to start with\n%s", msg, want)
	}
}

func TestListenErrorText(t *testing.T) {
	opErr := func(e syscall.Errno) error {
		return &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", e)}
	}
	for _, tc := range []struct {
		name string
		e    ListenError
		want string
	}{
		{"holder", ListenError{What: "[admin] address", Address: "127.0.0.1:9025", Err: opErr(syscall.EADDRINUSE), Listening: true, Holders: []procnet.Process{{PID: 7, Name: "python3"}}},
			"[admin] address 127.0.0.1:9025 cannot be opened: the address is already in use by process 7 (python3); set [admin] address to a free address of this host"},
		{"holder unknown", ListenError{What: "[admin] address", Address: "127.0.0.1:9025", Fix: "or stop it", Err: opErr(syscall.EADDRINUSE), Listening: true},
			"[admin] address 127.0.0.1:9025 cannot be opened: the address is already in use by another process (which one cannot be told without root: ss -ltnp); set [admin] address to a free address of this host, or stop it"},
		{"in use, gone", ListenError{What: "x", Address: "127.0.0.1:1", Err: opErr(syscall.EADDRINUSE)},
			"x 127.0.0.1:1 cannot be opened: the address is already in use; set x to a free address of this host"},
		{"privileged", ListenError{What: "[mta_sts] listen", Address: ":443", Err: opErr(syscall.EACCES)},
			"[mta_sts] listen :443 cannot be opened: permission denied (a port below 1024 needs postern started as root, with the capability CAP_NET_BIND_SERVICE); set [mta_sts] listen to a free address of this host"},
		{"not here", ListenError{What: "x", Address: "192.0.2.1:25", Err: opErr(syscall.EADDRNOTAVAIL)},
			"x 192.0.2.1:25 cannot be opened: no interface of this host has that address; set x to a free address of this host"},
		{"other", ListenError{What: "x", Address: "nowhere:25", Err: errors.New("lookup nowhere: no such host")},
			"x nowhere:25 cannot be opened: lookup nowhere: no such host; set x to a free address of this host"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// Bind opens every TCP listener or none: a failing admin address closes
// the SMTP listeners opened before it, and no local socket is made.
func TestBindAllOrNone(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtp := free.Addr().String()
	free.Close()
	sock := t.TempDir() + "/submit.sock"
	_, err = Bind(Request{SMTP: []Spec{{Name: "mta", Address: smtp}}, Admin: held.Addr().String(), Socket: sock}, nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "[admin] address "+held.Addr().String()) {
		t.Fatalf("Bind = %v, want the admin address refused", err)
	}
	if c, err := net.Dial("tcp", smtp); err == nil {
		c.Close()
		t.Fatalf("%s still listens after Bind failed", smtp)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local socket %s made: %v", sock, err)
	}
}
