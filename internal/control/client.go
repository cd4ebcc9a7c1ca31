package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// ErrNoServer means no server answers on the socket: the caller may
// open the queue itself.
var ErrNoServer = errors.New("no server is running")

// maxReply caps a reply (a long queue listing).
const maxReply = 64 << 20

// Do sends one request to the server listening at path and returns its
// reply. It returns ErrNoServer (wrapped) when the socket does not exist
// or nobody listens on it.
func Do(ctx context.Context, path string, r Request) (Reply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return Reply{}, fmt.Errorf("%w (%s)", ErrNoServer, path)
		}
		if errors.Is(err, os.ErrPermission) {
			return Reply{}, fmt.Errorf("control socket %s: permission denied: run as root or as the user postern runs as", path)
		}
		return Reply{}, fmt.Errorf("control socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// A server that refuses the peer answers and hangs up before reading
	// the request, so a failed write still leaves its reply to read.
	_, werr := io.WriteString(c, r.String()+"\n")
	line, err := bufio.NewReader(io.LimitReader(c, maxReply)).ReadString('\n')
	if err != nil {
		if werr != nil {
			return Reply{}, fmt.Errorf("control socket: %w", werr)
		}
		return Reply{}, fmt.Errorf("control socket: no complete reply: %w", err)
	}
	return ParseReply(line)
}
