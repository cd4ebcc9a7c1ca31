package configcheck

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/config"
	"postern/internal/procnet"
)

// fakeProc is a /proc with one socket listening on 127.0.0.1:9025
// (inode 4242) held, when comm is not "", by process 77 called comm.
func fakeProc(t *testing.T, comm string) procnet.Proc {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "net"), 0o755)
	os.WriteFile(filepath.Join(root, "net", "tcp"), []byte("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
		"   0: 0100007F:2341 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n"), 0o644)
	if comm != "" {
		os.MkdirAll(filepath.Join(root, "77", "fd"), 0o755)
		os.WriteFile(filepath.Join(root, "77", "comm"), []byte(comm+"\n"), 0o644)
		os.Symlink("socket:[4242]", filepath.Join(root, "77", "fd", "3"))
	}
	return procnet.Proc(root)
}

func TestCheckAddresses(t *testing.T) {
	defer func(p procnet.Proc) { proc = p }(proc)
	cfg := &config.Config{File: "/etc/postern/postern.toml", Admin: config.Admin{Address: "127.0.0.1:9025"}}
	for _, tc := range []struct {
		comm             string
		problem, warning string
	}{
		{comm: "python3", problem: `/etc/postern/postern.toml: [admin] address 127.0.0.1:9025 is in use by process 77 (python3): postern serve will not start; choose another address or stop that program`},
		{comm: "", warning: "in use by a process this user cannot see"},
		{comm: "postern"}, // the running server
	} {
		proc = fakeProc(t, tc.comm)
		r := checkAddresses(cfg)
		if got := strings.Join(r.Problems, "\n"); got != tc.problem {
			t.Errorf("holder %q: problems %q, want %q", tc.comm, got, tc.problem)
		}
		if got := strings.Join(r.Warnings, "\n"); tc.warning == "" && got != "" || !strings.Contains(got, tc.warning) {
			t.Errorf("holder %q: warnings %q, want %q", tc.comm, got, tc.warning)
		}
	}

	// The kernel's table: a port this test holds, then the same port free.
	proc = "/proc"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []config.Listener{{Name: "mta", Address: ln.Addr().String()}}
	cfg.Admin.Address = ""
	if r := checkAddresses(cfg); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], `[[listener]] "mta" address `+ln.Addr().String()+" is in use by process") {
		t.Errorf("held port: %+v", r)
	}
	ln.Close()
	if r := checkAddresses(cfg); len(r.Problems)+len(r.Warnings) != 0 {
		t.Errorf("free port: %+v", r)
	}
}
