package spool

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"

	"postern/internal/envelope"
)

// List reads the queue at dir (the spool directory given to New) without
// changing anything, for `postern queue list`; a server may be running on
// it. Items come oldest first. A queue file that cannot be read is listed
// with the reason in LastError.
func List(dir string) ([]Item, error) {
	qdir := filepath.Join(dir, "queue")
	names, err := readDirNames(qdir)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var items []Item
	for _, id := range names {
		if !validID(id) {
			continue
		}
		it, err := listOne(qdir, id)
		if errors.Is(err, os.ErrNotExist) {
			continue // delivered while we looked
		}
		if err != nil {
			items = append(items, Item{ID: id, LastError: "unreadable queue file: " + err.Error()})
			continue
		}
		items = append(items, it)
	}
	return items, nil
}

// ListCorrupt returns the paths of the files that the spool at dir has
// set aside as corrupt, for the admin to look at.
func ListCorrupt(dir string) ([]string, error) {
	cdir := filepath.Join(dir, "corrupt")
	names, err := readDirNames(cdir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(cdir, n)
	}
	return paths, nil
}

func listOne(qdir, id string) (Item, error) {
	f, err := os.Open(filepath.Join(qdir, id))
	if err != nil {
		return Item{}, err
	}
	env, _, err := readHeader(f, id)
	f.Close()
	if err != nil {
		return Item{}, err
	}
	st, _, err := readState(filepath.Join(qdir, id+stateSuffix), len(env.Rcpts))
	if err != nil {
		return Item{}, err
	}
	it := makeItem(env, func(i int) bool { return st.delivered[i] || hasKey(st.failed, i) },
		st.attempts, st.lastErr, st.next)
	it.Held = st.held(env.Hold)
	it.Slow = st.attempts >= DefaultSlowAfter
	return it, nil
}

func hasKey(m map[int]string, k int) bool {
	_, ok := m[k]
	return ok
}

// Item describes one queued message.
type Item struct {
	ID          string    `json:"id"`
	Arrived     time.Time `json:"arrived"`
	Size        int64     `json:"size"`
	From        string    `json:"from"`  // "" for the null sender
	Rcpts       []string  `json:"rcpts"` // recipients still to be delivered
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // zero: as soon as possible
	Held        bool      `json:"held,omitempty"`        // not delivered until released
	Slow        bool      `json:"slow,omitempty"`        // in the slow lane (see lanes.go)
}

func makeItem(env *envelope.Envelope, final func(int) bool, attempts int, lastErr string, next time.Time) Item {
	it := Item{
		ID: env.ID, Arrived: env.Received, Size: env.Size, From: env.From,
		Attempts: attempts, LastError: lastErr, NextAttempt: next,
	}
	for i, r := range env.Rcpts {
		if !final(i) {
			it.Rcpts = append(it.Rcpts, r.Addr)
		}
	}
	return it
}
