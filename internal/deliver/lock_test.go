package deliver

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
)

// fcntl locks are per process: the lock holder has to be another one.
// The test binary re-executed with POSTERN_TEST_LOCK=path locks the file,
// prints "locked" and holds the lock until its stdin closes.
func init() {
	if p := os.Getenv("POSTERN_TEST_LOCK"); p != "" {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			os.Exit(3)
		}
		if err := lockFile(f); err != nil {
			os.Exit(4)
		}
		os.Stdout.WriteString("locked\n")
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
}

func lockInChild(t *testing.T, path string) (release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "POSTERN_TEST_LOCK="+path)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("lock holder said %q", line)
	}
	released := false
	release = func() {
		if !released {
			released = true
			in.Close()
			cmd.Wait()
		}
	}
	t.Cleanup(release)
	return release
}
