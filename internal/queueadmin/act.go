package queueadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"postern/internal/control"
	"postern/internal/envelope"
	"postern/internal/privs"
	"postern/internal/spool"
)

// Requests turns the words after `postern queue` (other than list) into
// the requests to make: `requeue ID...` one per id and `requeue -all`
// one for the whole queue (all is the -all flag, for requeue only); any
// other verb the one request its words make.
func Requests(words []string, all bool) ([]control.Request, error) {
	line := strings.Join(words, " ")
	if len(words) == 0 || words[0] != control.VerbRequeue {
		req, err := control.ParseRequest(line)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: %v", OneLine(line), err)
		case req.Verb == control.VerbList:
			return nil, errors.New("list: not an action")
		case all:
			return nil, fmt.Errorf("%s: -all goes with requeue only", req.Verb)
		}
		return []control.Request{req}, nil
	}
	ids := words[1:]
	if all == (len(ids) > 0) {
		return nil, errors.New("requeue: give -all or the queue ids")
	}
	if all {
		return []control.Request{{Verb: control.VerbRequeue}}, nil
	}
	var reqs []control.Request
	for _, id := range ids {
		if !control.ValidID(id) {
			return nil, fmt.Errorf("requeue: %s is not a queue id", OneLine(id))
		}
		reqs = append(reqs, control.Request{Verb: control.VerbRequeue, ID: id})
	}
	return reqs, nil
}

// Act sends reqs, in order, to the server listening on sock, or, when
// no server runs, carries them out on the spool in spoolDir (opened with
// opt; New takes its lock, so a server that holds the queue but does not
// answer is reported). It stops at the first error and returns what was
// done, to show, one line per request. Run as root without a server, it
// hands the spool's files to user, the user the server runs as (the
// configuration's user): the server must be able to write them.
func Act(ctx context.Context, reqs []control.Request, sock, spoolDir string, opt spool.Options, user string) (string, error) {
	var done []string
	for i, req := range reqs {
		r, err := control.Do(ctx, sock, req)
		switch {
		case err == nil && r.OK:
			done = append(done, r.Text)
			continue
		case err == nil:
			return "", failed(done, errors.New(r.Text))
		case !errors.Is(err, control.ErrNoServer) || i > 0:
			return "", failed(done, err)
		}
		return offline(reqs, spoolDir, sock, opt, user)
	}
	return strings.Join(done, "\n"), nil
}

// offline carries out reqs on the spool directly.
func offline(reqs []control.Request, spoolDir, sock string, opt spool.Options, user string) (string, error) {
	owner, err := privs.ServiceOwner(user)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(spoolDir); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no spool at %s yet", spoolDir)
	}
	sp, err := spool.New(spoolDir, offlineCourier{}, nil, opt)
	if err != nil {
		return "", fmt.Errorf("%v (a server holds the queue but does not answer on %s)", err, sock)
	}
	defer sp.Close()
	var done []string
	for _, req := range reqs {
		text, err := control.Apply(sp, req)
		if gerr := owner.Give(spoolDir); err == nil {
			err = gerr
		}
		if err != nil {
			return "", failed(done, err)
		}
		switch req.Verb {
		case control.VerbFlush, control.VerbRequeue:
			text += " (no server is running: delivered when postern serve starts)"
		case control.VerbBounce:
			text += " (no server is running: the bounce is sent when postern serve starts)"
		default:
			text += " (no server is running: done on the queue directly)"
		}
		done = append(done, text)
	}
	return strings.Join(done, "\n"), nil
}

// failed is the error of a request after those done: what was done
// comes first, for the admin.
func failed(done []string, err error) error {
	if len(done) == 0 {
		return err
	}
	return fmt.Errorf("%s\n%w", strings.Join(done, "\n"), err)
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
