package spool

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// groupCommit shares the syncing among concurrent commits. The first
// committer that finds no batch in progress leads: it takes every request
// queued so far, makes them durable together and releases them; requests
// that arrive meanwhile form the next batch, led by a fresh goroutine.
// No commit waits for a timer: at concurrency 1 a commit costs exactly
// its own syncs, under load one batch's syncs serve many commits. Only the
// directory sync after a delivered file's removal (syncRemoval) waits up
// to removalWait for a commit to share its directory fsync.
type groupCommit struct {
	s       *Spool
	mu      sync.Mutex
	pending []*syncReq
	busy    bool
	armed   bool         // a removal's timer is running (syncRemoval)
	batches atomic.Int64 // batches synced, for tests
}

// removalWait is how long a removal's directory sync waits for a commit
// to join before it runs alone.
const removalWait = 10 * time.Millisecond

// syncReq is one commit (f set: sync f, rename tmp to final) or a request
// for a directory sync only (f nil: make earlier unlinks durable).
type syncReq struct {
	f          *os.File
	tmp, final string
	err        error
	done       chan struct{}
}

// commit makes f durable under the name final and returns when it is.
func (g *groupCommit) commit(f *os.File, tmp, final string) error {
	return g.wait(&syncReq{f: f, tmp: tmp, final: final, done: make(chan struct{})})
}

// syncDir returns once the queue directory has been fsynced after the
// call began.
func (g *groupCommit) syncDir() error {
	return g.wait(&syncReq{done: make(chan struct{})})
}

// syncRemoval is syncDir for the removal of a delivered file: it joins
// the batch under way or the next commit's, and syncs the directory alone
// only when no commit came within removalWait. It returns once the
// directory has been fsynced after the call began.
func (g *groupCommit) syncRemoval() error {
	if g.s.opt.noGroupCommit {
		return g.syncDir()
	}
	r := &syncReq{done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if !g.busy && !g.armed {
		g.armed = true
		time.AfterFunc(removalWait, g.removalDue)
	}
	g.mu.Unlock()
	<-r.done
	return r.err
}

// removalDue leads a batch for the removals still waiting when their time
// is up, unless a batch runs (it hands over to one that takes them).
func (g *groupCommit) removalDue() {
	g.mu.Lock()
	g.armed = false
	if g.busy || len(g.pending) == 0 {
		g.mu.Unlock()
		return
	}
	g.busy = true
	g.mu.Unlock()
	g.lead()
}

func (g *groupCommit) wait(r *syncReq) error {
	if g.s.opt.noGroupCommit {
		g.s.syncBatch([]*syncReq{r})
		return r.err
	}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	<-r.done
	return r.err
}

// lead runs one batch, then hands over to a new leader if more requests
// arrived meanwhile, so that no committer is held up by later ones.
func (g *groupCommit) lead() {
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()

	g.s.syncBatch(batch)
	g.batches.Add(1)
	for _, r := range batch {
		close(r.done)
	}

	g.mu.Lock()
	if len(g.pending) > 0 {
		g.mu.Unlock()
		go g.lead()
		return
	}
	g.busy = false
	g.mu.Unlock()
}

// syncBatch makes a batch durable: file data first, then the renames, then
// one fsync of the queue directory. No request is released before all
// three happened for it.
func (s *Spool) syncBatch(batch []*syncReq) {
	if s.opt.syncLatency > 0 {
		time.Sleep(s.opt.syncLatency)
	}
	var files []*syncReq
	for _, r := range batch {
		if r.f != nil {
			files = append(files, r)
		}
	}
	switch {
	case len(files) == 0:
	case s.opt.Sync == SyncFS || s.opt.Sync == syncFSUnchecked:
		err := unix.Syncfs(int(s.qdirFile.Fd()))
		for _, r := range files {
			switch {
			case err != nil:
				r.err = fmt.Errorf("syncfs: %w", err)
			case s.opt.Sync == SyncFS:
				// syncfs reports a write-back error only to the first
				// caller after it happened, possibly another batch; each
				// file's own fdatasync reports its errors (and is cheap now).
				r.err = fdatasync(r.f)
			}
		}
	case len(files) == 1:
		files[0].err = fdatasync(files[0].f)
	case s.opt.Sync == syncFilesParallel:
		var wg sync.WaitGroup
		for _, r := range files {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.err = fdatasync(r.f)
			}()
		}
		wg.Wait()
	default:
		// Start write-back of every file first, so that the data goes to
		// the disk together and the first fdatasync's journal commit
		// covers the other files too; the rest then mostly wait.
		for _, r := range files {
			unix.SyncFileRange(int(r.f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		}
		for _, r := range files {
			r.err = fdatasync(r.f)
		}
	}
	var renamed []*syncReq
	for _, r := range files {
		if r.err != nil {
			continue
		}
		if r.err = renameNoReplace(r.tmp, r.final); r.err == nil {
			renamed = append(renamed, r)
		}
	}
	if err := s.qdirFile.Sync(); err != nil {
		err = fmt.Errorf("fsync queue directory: %w", err)
		s.log.Error("spool sync failed", "err", err)
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
		}
		// The renames may or may not survive a crash: undo them so that
		// a message whose Commit failed is not delivered anyway.
		for _, r := range renamed {
			os.Remove(r.final)
		}
	}
}

func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("fdatasync: %w", err)
		}
		return nil
	}
}

// renameNoReplace renames old to new, failing if new exists, so that a
// queue id given twice never overwrites a queued message.
func renameNoReplace(oldPath, newPath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldPath, unix.AT_FDCWD, newPath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		// File systems without RENAME_NOREPLACE: link fails on an existing name.
		if err = os.Link(oldPath, newPath); err == nil {
			return os.Remove(oldPath)
		}
		return err
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
	return nil
}
