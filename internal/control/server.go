package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"postern/internal/spool"
)

// Queue is what the control channel operates on (a *spool.Spool).
type Queue interface {
	Items() []spool.Item
	Flush(id string) error
	FlushAll() (int, error)
	Hold(id string) error
	Release(id string) error
	Remove(id string) error
	Bounce(id string) error
	Requeue(id string) error
	RequeueAll() (int, error)
}

// Destinations is what the control channel needs from delivery: a flush
// of the whole queue and a requeue end every destination's back-off, as
// Postfix's postqueue -f does.
type Destinations interface {
	ResetBackoff() int
}

// Server answers requests on the control socket.
type Server struct {
	Queue Queue
	// Destinations, when set, have their back-offs ended by a flush of
	// the whole queue or a requeue.
	Destinations Destinations
	Log          *slog.Logger
	// Allowed reports whether a peer's uid may use the channel; nil
	// means root and the server's own effective uid.
	Allowed func(uid int) bool
}

// timeout bounds one connection: a peer that sends nothing is dropped.
const timeout = 30 * time.Second

// Listen creates the socket at path, mode 0600. A socket left by a
// server that stopped is replaced; any other file at path is an error.
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s: a file that is not a socket is in the way", path)
		}
		// Only a socket nobody answers on is stale.
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another server answers on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The data directory (0700) already keeps others out; 0600 says so
	// on the socket itself.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Serve answers connections on ln until ctx ends, then closes ln (which
// removes the socket file).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go s.handle(c.(*net.UnixConn), log)
	}
}

func (s *Server) allowed(uid int) bool {
	if s.Allowed != nil {
		return s.Allowed(uid)
	}
	return uid == 0 || uid == os.Geteuid()
}

func (s *Server) handle(c *net.UnixConn, log *slog.Logger) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	uid, err := peerUID(c)
	if err != nil || !s.allowed(uid) {
		log.Warn("control request refused", "uid", uid, "err", err)
		c.Write([]byte(formatReply(false, "permission denied: run as root or as the user postern runs as")))
		return
	}
	line, err := bufio.NewReaderSize(c, MaxRequest).ReadSlice('\n')
	if err != nil {
		c.Write([]byte(formatReply(false, "bad request: want one line of at most "+strconv.Itoa(MaxRequest)+" bytes")))
		return
	}
	req, err := ParseRequest(string(line))
	if err != nil {
		c.Write([]byte(formatReply(false, err.Error())))
		return
	}
	text, err := Apply(s.Queue, req)
	if err != nil {
		log.Info("control", "request", req.String(), "uid", uid, "err", err)
		c.Write([]byte(formatReply(false, err.Error())))
		return
	}
	if s.Destinations != nil && (req.Verb == VerbFlush && req.ID == "" || req.Verb == VerbRequeue) {
		if n := s.Destinations.ResetBackoff(); n > 0 {
			text += fmt.Sprintf("; back-off of %d destination(s) ended", n)
		}
	}
	if req.Verb != VerbList {
		log.Info("control", "request", req.String(), "uid", uid, "result", text)
	}
	c.Write([]byte(formatReply(true, text)))
}

// Apply carries out a request on q and returns the text of its reply.
// The server uses it for each request; `postern queue` uses it on the
// spool directly when no server runs.
func Apply(q Queue, r Request) (string, error) {
	switch r.Verb {
	case VerbList:
		items := q.Items()
		if items == nil {
			items = []spool.Item{}
		}
		b, err := json.Marshal(items)
		return string(b), err
	case VerbFlush:
		if r.ID == "" {
			n, err := q.FlushAll()
			return fmt.Sprintf("flushed %d message(s)", n), err
		}
		return "flushed " + r.ID, q.Flush(r.ID)
	case VerbRequeue:
		if r.ID == "" {
			n, err := q.RequeueAll()
			return fmt.Sprintf("requeued %d message(s)", n), err
		}
		return "requeued " + r.ID, q.Requeue(r.ID)
	case VerbHold:
		return "held " + r.ID, q.Hold(r.ID)
	case VerbRelease:
		return "released " + r.ID, q.Release(r.ID)
	case VerbRemove:
		return "removed " + r.ID, q.Remove(r.ID)
	case VerbBounce:
		return "bounced " + r.ID, q.Bounce(r.ID)
	}
	return "", fmt.Errorf("unknown request %q", r.Verb)
}

// peerUID reads the uid of the process at the other end (SO_PEERCRED).
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	return int(cred.Uid), nil
}
