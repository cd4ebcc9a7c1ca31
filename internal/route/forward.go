package route

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/envelope"
	"postern/internal/maps"
	"postern/internal/smtp"
)

// Forwarder puts a forwarded copy of a message into the queue: one new
// message per original recipient, with the original content (below a
// Delivered-To field naming the recipient, for loop detection) and the
// original envelope sender, its recipients marked as forwarded (so that
// the copy leaves with an SRS sender when SRS is on: Courier.SRS, at
// delivery; the queue keeps the original for our own bounces). A marker file
// records each copy made, so that a retry of the original message (when
// another target of the same recipient failed for now) never queues the
// copy twice.
type Forwarder struct {
	// Inject writes a message into the queue durably.
	Inject func(ctx context.Context, env *envelope.Envelope, content io.Reader) error
	// Dir holds the markers (created 0700 when missing).
	Dir string
	// Keep is how long markers are kept; 0 means 6 days (longer than a
	// message stays in the queue).
	Keep time.Duration
	Log  *slog.Logger
}

func (f *Forwarder) marks() Marks { return Marks{Dir: f.Dir, Keep: f.Keep} }

// markKey is what a forwarded copy's mark is made of.
func markKey(rcpt, from string, to []string) []string {
	return []string{strings.ToLower(rcpt), from, strings.Join(to, ",")}
}

// Forward queues one copy of env's message for the addresses to, as
// forwarded by the recipient r, with the envelope sender from. r's NOTIFY
// and ORCPT are those the copies carry. With the original sender the
// copy keeps the DSN request (ENVID, RET, and r's NOTIFY and ORCPT: RFC
// 3461 5.2.7.2 and 5.2.7.3); a copy sent under a list owner's address
// carries none of it (RFC 3461 5.2.7.1).
func (f *Forwarder) Forward(ctx context.Context, env *envelope.Envelope, r envelope.Recipient, from string, to []string, body io.ReaderAt) error {
	rcpt := r.Addr
	if f.marks().Has(env.ID, markKey(rcpt, from, to)...) {
		return nil // queued by an earlier attempt
	}
	fwd := &envelope.Envelope{
		From: from, Received: time.Now(), Listener: "forward",
		SMTPUTF8: env.SMTPUTF8, Body: env.Body,
	}
	keep := from == env.From
	if keep {
		fwd.DSNRet, fwd.EnvID = env.DSNRet, env.EnvID
	}
	for _, a := range to {
		rc := envelope.Recipient{Addr: a, Forwarded: true}
		if keep {
			rc.Notify, rc.ORCPT = r.Notify, r.ORCPT
		}
		fwd.Rcpts = append(fwd.Rcpts, rc)
	}
	content := io.MultiReader(strings.NewReader("Delivered-To: "+rcpt+"\r\n"), io.NewSectionReader(body, 0, env.Size))
	if err := f.Inject(ctx, fwd, content); err != nil {
		return &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "forwarding failed, will try again", Err: err}
	}
	// After the copy is durable: a crash in between may queue it twice
	// (at least once, as SMTP itself), never zero times.
	if err := f.marks().Add(env.ID, markKey(rcpt, from, to)...); err != nil && f.Log != nil {
		f.Log.WarnContext(ctx, "forward marker not written", "id", env.ID, "err", err)
	}
	if f.Log != nil {
		f.Log.InfoContext(ctx, "forwarded", "id", env.ID, "rcpt", rcpt, "new_id", fwd.ID, "to", strings.Join(to, ","), "from", from)
	}
	return nil
}

// Prune removes markers older than Keep.
func (f *Forwarder) Prune(now time.Time) { f.marks().Prune(now) }

// Run prunes markers every hour until ctx ends.
func (f *Forwarder) Run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		f.Prune(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// HomeFunc finds a system user's home directory and user id.
type HomeFunc func(user string) (home string, uid int, ok bool)

// ForwardFiles reads users' .forward files. Only system users have them:
// $home is the home directory of the system account named by the local
// part (Home, normally from the password database); a local part that
// names no system account has no .forward file. A file is used only when
// it is a regular file (not a symbolic link) owned by that user or by
// root and not writable by group or others, as sendmail requires.
type ForwardFiles struct {
	Paths []string // "$home/.forward", with $home and $user
	Home  HomeFunc
	// MaxBytes bounds a file; 0 means 64 KiB.
	MaxBytes int64
	Log      *slog.Logger
}

// Read returns the targets of user's .forward file, the path read, and
// whether there is one. A file that exists but is unsafe or unreadable
// gives an error target (temporary when it could not be read).
func (f *ForwardFiles) Read(user string) ([]maps.Target, string, bool) {
	if len(f.Paths) == 0 || f.Home == nil || user == "" || strings.ContainsAny(user, "/\x00") || strings.HasPrefix(user, ".") {
		return nil, "", false
	}
	home, uid, ok := f.Home(user)
	if !ok || home == "" {
		return nil, "", false
	}
	for _, p := range f.Paths {
		path := filepath.Clean(strings.NewReplacer("$home", home, "$user", user).Replace(p))
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		fail := func(err error, temp bool) ([]maps.Target, string, bool) {
			return []maps.Target{{Kind: maps.TargetError, Err: err, Temporary: temp, Source: maps.Source{File: path}}}, path, true
		}
		if err != nil {
			return fail(err, true)
		}
		if err := safeForward(fi, uid); err != nil {
			return fail(fmt.Errorf("%s: %w", path, err), false)
		}
		limit := f.MaxBytes
		if limit <= 0 {
			limit = 64 << 10
		}
		if fi.Size() > limit {
			return fail(fmt.Errorf("%s: larger than %d bytes", path, limit), false)
		}
		fh, err := os.Open(path)
		if err != nil {
			return fail(err, true)
		}
		ts, err := maps.ParseIncludeList(path, io.LimitReader(fh, limit))
		fh.Close()
		if err != nil {
			return fail(err, false)
		}
		return ts, path, true
	}
	return nil, "", false
}

func safeForward(fi fs.FileInfo, uid int) error {
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by group or others (mode %04o)", fi.Mode().Perm())
	}
	if owner, ok := fileOwner(fi); ok && owner != uid && owner != 0 {
		return fmt.Errorf("owned by uid %d, not by the user (%d) or root", owner, uid)
	}
	return nil
}
