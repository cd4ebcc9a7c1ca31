package test

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"
)

// rawConn is a minimal SMTP client that reports errors instead of failing
// the test, for load from many goroutines.
type rawConn struct {
	nc net.Conn
	r  *bufio.Reader
}

func rawDial(addr string) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &rawConn{nc: nc, r: bufio.NewReader(nc)}
	if code, err := c.read(); err != nil || code != 220 {
		nc.Close()
		return nil, fmt.Errorf("greeting %d: %v", code, err)
	}
	return c, nil
}

func (c *rawConn) read() (int, error) { return c.readWithin(30 * time.Second) }

// readWithin reads one reply, waiting at most d in all.
func (c *rawConn) readWithin(d time.Duration) (int, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if len(line) < 4 {
			return 0, fmt.Errorf("short reply %q", line)
		}
		if line[3] == ' ' {
			var code int
			fmt.Sscanf(line, "%3d", &code)
			return code, nil
		}
	}
}

// openIdle opens n connections to addr and says EHLO on each.
func openIdle(t *testing.T, addr string, n int) []*rawConn {
	t.Helper()
	conns := make([]*rawConn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := rawDial(addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if code, err := c.cmd("EHLO idle.test"); err != nil || code != 250 {
			t.Fatalf("EHLO on connection %d: %d %v", i, code, err)
		}
	}
	return conns
}

func (c *rawConn) cmd(line string) (int, error) {
	c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write([]byte(line + "\r\n")); err != nil {
		return 0, err
	}
	return c.read()
}

func (c *rawConn) close() { c.nc.Close() }
