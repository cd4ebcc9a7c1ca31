// Package spool is postern's durable queue. A message is written to a
// temporary file (content, then envelope, then a checksummed footer),
// fsynced, renamed to its queue id and its directory fsynced before Commit
// returns: only then may the SMTP server say 250. Concurrent commits share
// the syncing (group commit). Delivery runs in the background through a
// Courier, with a bounded active set, per-recipient state kept durably
// beside the message and exponential backoff between attempts.
//
// On disk, under the spool directory:
//
//	queue/ID        one message: content, envelope, footer (see file.go)
//	queue/ID.state  append-only delivery records for ID (see state.go)
//	queue/ID.tmp    a message being received; removed at start-up
//	corrupt/        queue files that failed their checks, kept for the admin
//	lock            flock(2)ed by the one process that owns the spool
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"postern/internal/envelope"
)

// Courier is all the spool needs from delivery (declared here, implemented
// in internal/deliver and later by remote delivery).
type Courier interface {
	// Deliver tries the message for rcpts and returns one result per
	// recipient, in order: nil = delivered; *smtp.Reply with a 5xx code =
	// permanent failure; any other error (or a 4xx Reply) = try again later.
	// When ctx is marked with envelope.WithRedelivery, some recipients may
	// already hold a copy from before a crash. Recipients relayed over
	// SMTP are recorded in the dsn.Handoffs of ctx (dsn.RecordHandoff):
	// the spool sends "relayed" notices from them.
	Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error
}

// SyncMode chooses how a group commit makes its message files durable.
// Both modes are correct; BenchmarkCommit and TestCompareSyncModes
// measure them.
type SyncMode int

const (
	// SyncFiles starts write-back of every file of the batch, then
	// fdatasyncs each, renames them and fsyncs the queue directory once.
	// The default: it touches only the spool's own files, and on ext4 it
	// was as fast as the alternatives (within the noise of a shared
	// machine) at 1, 10 and 50 concurrent commits.
	SyncFiles SyncMode = iota
	// SyncFS calls syncfs(2) once for the batch, then fdatasyncs each
	// file (cheap by then; it is what reports a write error of that very
	// file), renames and fsyncs the directory once. It also flushes every
	// other dirty file on the same file system, so its cost depends on
	// what else writes there.
	SyncFS

	// The modes below exist for TestCompareSyncModes only.

	// syncFilesParallel fdatasyncs the files of a batch from one goroutine
	// each: slower than SyncFiles (more threads, no shared write-back).
	syncFilesParallel
	// syncFSUnchecked is SyncFS without the per-file fdatasync. Faster,
	// but NOT correct: syncfs reports a write-back error once, to the
	// first syncfs after it on a descriptor opened before it, so a batch
	// can miss the error of one of its own files.
	syncFSUnchecked
)

// Options tunes a Spool. The zero value is usable: every zero field means
// its documented default. Group commit is always on: at one commit at a
// time it costs nothing (no timer waits for company), under load it
// shares each flush among all commits that arrived meanwhile.
type Options struct {
	MaxActive    int           // messages of the normal lane in delivery at once; 0 = 100
	RetryInitial time.Duration // delay before the first retry; 0 = 5m
	RetryMax     time.Duration // longest delay between retries; 0 = 4h
	Lifetime     time.Duration // give up on a message this long after it arrived; 0 = 120h (5 days)
	Sync         SyncMode      // how group commits sync; the zero value is SyncFiles

	// Slow lane (see lanes.go): a message that failed SlowAfter attempts
	// is delivered only in the slow lane, at most SlowActive at once, so
	// that it never takes a place fresh mail needs.
	SlowAfter  int // failed attempts before the slow lane; 0 = DefaultSlowAfter
	SlowActive int // slow-lane messages in delivery at once; 0 = DefaultSlowActive

	// WarnAfter is how long a message waits before its sender gets one
	// delay notice (RFC 3464 Action: delayed); 0 = never.
	WarnAfter time.Duration
	// Deferred holds every message until a queue run: Flush, or every
	// QueueInterval (deferred delivery mode).
	Deferred bool
	// QueueInterval is the time between queue runs in deferred mode; 0 = 15m.
	QueueInterval time.Duration

	// Hostname names this host in notifications (Reporting-MTA,
	// MAILER-DAEMON@Hostname); "" = "localhost".
	Hostname string
	// Postmaster receives the notices about messages whose sender cannot
	// be told (the null sender: double bounces); "" = postmaster@Hostname.
	Postmaster string
	// LocalRecipient reports whether a recipient was delivered into a
	// local mailbox: those get "delivered" notices (NOTIFY=SUCCESS). A
	// recipient relayed elsewhere passes NOTIFY on to the next hop, or,
	// when the next hop does not offer DSN (dsn.Handoffs tells), gets a
	// "relayed" notice. nil: no "delivered" notices.
	LocalRecipient func(addr string) bool
	// MaxReturn caps the message returned in a bounce; larger ones come
	// back as headers only. 0 = dsn.DefaultMaxReturn.
	MaxReturn int64

	// Now is the clock; nil = time.Now. Tests move it forward.
	Now func() time.Time

	noGroupCommit bool // every commit syncs alone (for TestCompareSyncModes)
	// syncLatency, for tests, is added to every batch's syncs: a disk's
	// fsync takes time, tmpfs's none, and sharing only shows when it does.
	syncLatency time.Duration
}

// Defaults of the slow lane.
const (
	// DefaultSlowAfter: with the default retry times a message that
	// failed 3 times has waited 35 minutes and tries again in 40.
	DefaultSlowAfter  = 3
	DefaultSlowActive = 10
	// DefaultQueueInterval is the time between queue runs in deferred mode.
	DefaultQueueInterval = 15 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.MaxActive <= 0 {
		o.MaxActive = 100
	}
	if o.RetryInitial <= 0 {
		o.RetryInitial = 5 * time.Minute
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 4 * time.Hour
	}
	if o.RetryMax < o.RetryInitial {
		o.RetryMax = o.RetryInitial
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 120 * time.Hour
	}
	if o.SlowAfter <= 0 {
		o.SlowAfter = DefaultSlowAfter
	}
	if o.SlowActive <= 0 {
		o.SlowActive = DefaultSlowActive
	}
	if o.QueueInterval <= 0 {
		o.QueueInterval = DefaultQueueInterval
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.Postmaster == "" {
		o.Postmaster = "postmaster@" + o.Hostname
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Spool is one queue directory with its delivery loop.
type Spool struct {
	dir     string // the spool directory
	qdir    string // dir/queue
	cdir    string // dir/corrupt
	courier Courier
	log     *slog.Logger
	opt     Options

	group   groupCommit
	bufPool sync.Pool // *bufio.Writer for Writers
	mem     memCopies // the budget of the first attempts' copies

	mu      sync.Mutex
	items   map[string]*item // every message in the queue, by id
	ready   [2][]*item       // due now, oldest first, per lane (see lanes.go)
	waiting waitHeap         // not yet due, soonest first
	turns   waitHeap         // waiting for a pacing turn, soonest first
	active  [2]int           // deliveries running per lane
	nextRun time.Time        // deferred mode: the next periodic queue run
	running bool             // Run was called
	lock    *os.File         // holds the flock on dir/lock
	// qdirFile is the queue directory, open for fsync. Set in New,
	// closed by Close.
	qdirFile *os.File
	kick     chan struct{} // wakes the delivery loop; capacity 1
}

// New opens (creating it 0700 if needed) the spool at dir, normally
// data_dir/spool, and recovers what is on disk: temporary files of
// messages that were never committed are removed, corrupt queue files are
// moved to dir/corrupt, every other message is queued for delivery. Call
// Run to deliver.
func New(dir string, c Courier, log *slog.Logger, opt Options) (*Spool, error) {
	if c == nil {
		return nil, errors.New("spool: no courier")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Spool{
		dir:     dir,
		qdir:    filepath.Join(dir, "queue"),
		cdir:    filepath.Join(dir, "corrupt"),
		courier: c,
		log:     log,
		opt:     opt.withDefaults(),
		items:   map[string]*item{},
		kick:    make(chan struct{}, 1),
	}
	s.group.s = s
	for _, d := range []string{dir, s.qdir, s.cdir} {
		if err := mkdirDurable(d); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	// One process owns a spool: a second one would deliver the same
	// messages and remove the first one's messages in progress.
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("spool: %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("spool: locking %s: %w", dir, err)
	}
	s.lock = lock
	if s.qdirFile, err = os.Open(s.qdir); err != nil {
		s.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := s.recover(); err != nil {
		s.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	return s, nil
}

// mkdirDurable creates dir 0700 if it does not exist and makes its entry
// durable in the parent directory.
func mkdirDurable(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// syncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close releases the spool directory for another Spool (the process
// exiting does the same). Call it after Run has returned and every Writer
// is committed or aborted.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	if s.qdirFile != nil {
		s.qdirFile.Close()
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// Kick wakes the delivery loop, so that a message that just became due
// (or a queue run asked for by the admin) is looked at now.
func (s *Spool) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// now reads the spool's clock.
func (s *Spool) now() time.Time { return s.opt.Now() }

func (s *Spool) msgPath(id string) string   { return filepath.Join(s.qdir, id) }
func (s *Spool) statePath(id string) string { return filepath.Join(s.qdir, id+stateSuffix) }
func (s *Spool) tmpPath(id string) string   { return filepath.Join(s.qdir, id+tmpSuffix) }

const (
	stateSuffix = ".state"
	tmpSuffix   = ".tmp"
	maxIDLen    = 64
)

// validID reports whether id is usable as a queue file name: letters,
// digits, '-' and '_' only, so that no id can name a path elsewhere.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
