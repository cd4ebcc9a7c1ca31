package milter

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	gomilter "github.com/emersion/go-milter"
)

// What postern lets milters do, and the parts of the protocol it can skip
// when a milter asks. ActAddRcptWithArgs and SetSymList are not offered,
// nor is Skip (a milter's "no more body, please"): go-milter's client does
// not read them.
const (
	offeredActions = gomilter.OptAddHeader | gomilter.OptChangeBody | gomilter.OptAddRcpt |
		gomilter.OptRemoveRcpt | gomilter.OptChangeHeader | gomilter.OptQuarantine | gomilter.OptChangeFrom
	offeredProtocol = gomilter.OptNoConnect | gomilter.OptNoHelo | gomilter.OptNoMailFrom |
		gomilter.OptNoRcptTo | gomilter.OptNoBody | gomilter.OptNoHeaders | gomilter.OptNoEOH |
		gomilter.OptNoUnknown | gomilter.OptNoData |
		gomilter.OptNoHeaderReply | gomilter.OptNoConnReply | gomilter.OptNoHeloReply |
		gomilter.OptNoMailReply | gomilter.OptNoRcptReply | gomilter.OptNoEOHReply | gomilter.OptNoBodyReply
	// Protocol version 2 knows only the first six actions and seven
	// protocol flags.
	v2Actions  = offeredActions & 0x3f
	v2Protocol = offeredProtocol & 0x7f
)

// timedConn is the milter connection. It gives the end-of-message reply
// its own timeout (sendmail's E) in place of the per-reply one (R), and
// lets a cancelled context break any read or write at once.
type timedConn struct {
	net.Conn
	mu      sync.Mutex
	readFor time.Duration // >0: replaces the reader's own timeout
	dead    bool
}

var past = time.Unix(1, 0)

func (c *timedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.dead:
		t = past
	case c.readFor > 0 && !t.IsZero():
		t = time.Now().Add(c.readFor)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *timedConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		t = past
	}
	return c.Conn.SetWriteDeadline(t)
}

// kill makes every pending and later read and write fail.
func (c *timedConn) kill() {
	c.mu.Lock()
	c.dead = true
	c.Conn.SetDeadline(past)
	c.mu.Unlock()
}

// endTimeout switches reads to the end-of-message timeout (0: back to R).
func (c *timedConn) endTimeout(d time.Duration) {
	c.mu.Lock()
	c.readFor = d
	c.mu.Unlock()
}

// dialer gives go-milter's client a connection bound to a context.
type dialer struct {
	ctx     context.Context
	timeout time.Duration
	conn    *timedConn // the last connection made
}

func (d *dialer) Dial(network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout}
	c, err := nd.DialContext(d.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.conn = &timedConn{Conn: c}
	return d.conn, nil
}

// link is one open milter session.
type link struct {
	s  *gomilter.ClientSession
	tc *timedConn
}

// open connects to the milter and negotiates. A milter that only speaks
// protocol version 2 is asked again with what version 2 knows.
func (f *filter) open(ctx context.Context) (*link, error) {
	try := func(actions gomilter.OptAction, proto gomilter.OptProtocol) (*link, error) {
		d := &dialer{ctx: ctx, timeout: f.Timeouts.Connect}
		cl := gomilter.NewClientWithOptions(f.Socket.Network, f.Socket.Address, gomilter.ClientOptions{
			Dialer:       d,
			ReadTimeout:  f.Timeouts.Read,
			WriteTimeout: f.Timeouts.Send,
			ActionMask:   actions,
			ProtocolMask: proto,
		})
		stop := context.AfterFunc(ctx, func() {
			if d.conn != nil {
				d.conn.kill()
			}
		})
		defer stop()
		s, err := cl.Session()
		if err != nil {
			if d.conn != nil {
				d.conn.Close() // go-milter leaves it open when negotiation fails
			}
			return nil, err
		}
		return &link{s: s, tc: d.conn}, nil
	}
	if !f.v2.Load() {
		l, err := try(offeredActions, offeredProtocol)
		if !errors.Is(err, gomilter.ErrUnsupportedMilterVersion) {
			return l, err
		}
		f.v2.Store(true)
	}
	return try(v2Actions, v2Protocol)
}

// close ends the session; abort first tells the milter to forget an
// unfinished message.
func (l *link) close(abort bool) {
	if abort {
		l.s.Abort()
	}
	l.s.Close()
}
