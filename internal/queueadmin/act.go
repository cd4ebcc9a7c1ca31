package queueadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"postern/internal/control"
	"postern/internal/envelope"
	"postern/internal/spool"
)

// Act sends req to the server listening on sock, or, when no server
// runs, carries it out on the spool in spoolDir (opened with opt; New
// takes its lock, so a server that holds the queue but does not answer
// is reported). It returns what was done, to show.
func Act(ctx context.Context, req control.Request, sock, spoolDir string, opt spool.Options) (string, error) {
	r, err := control.Do(ctx, sock, req)
	switch {
	case err == nil && r.OK:
		return r.Text, nil
	case err == nil:
		return "", errors.New(r.Text)
	case !errors.Is(err, control.ErrNoServer):
		return "", err
	}
	// No server: the queue is ours to change.
	if _, err := os.Stat(spoolDir); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no spool at %s yet", spoolDir)
	}
	sp, err := spool.New(spoolDir, offlineCourier{}, nil, opt)
	if err != nil {
		return "", fmt.Errorf("%v (a server holds the queue but does not answer on %s)", err, sock)
	}
	defer sp.Close()
	text, err := control.Apply(sp, req)
	if err != nil {
		return "", err
	}
	switch req.Verb {
	case control.VerbFlush:
		text += " (no server is running: delivered when postern serve starts)"
	case control.VerbBounce:
		text += " (no server is running: the bounce is sent when postern serve starts)"
	default:
		text += " (no server is running: done on the queue directly)"
	}
	return text, nil
}

// offlineCourier is the courier of a spool opened by Act: Run is never
// called, so it never delivers.
type offlineCourier struct{}

func (offlineCourier) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	for i := range errs {
		errs[i] = errors.New("the queue command does not deliver")
	}
	return errs
}
