package console

import (
	"bytes"
	"context"
	"mime"
	"strings"
	"sync"
	"time"

	"postern/internal/spool"
)

// maxSubject bounds a subject as shown and searched.
const maxSubject = 300

// subjectDecoder decodes RFC 2047 words in UTF-8, US-ASCII and
// ISO-8859-1; other charsets stay encoded, as they came.
var subjectDecoder = &mime.WordDecoder{}

// subjectOf is the Subject field of a message header: unfolded, its
// encoded words decoded, at most maxSubject bytes. A header without one
// gives "".
func subjectOf(header []byte) string {
	var b []byte
	in := false
	for _, line := range bytes.SplitAfter(header, []byte("\n")) {
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case in && len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			b = append(b, line...)
		case in:
			in = false
		case len(line) >= 8 && strings.EqualFold(string(line[:8]), "subject:") && b == nil:
			in, b = true, append([]byte{}, line[8:]...)
		}
		if len(b) > 4*maxSubject {
			break
		}
	}
	s := strings.TrimSpace(string(b))
	if d, err := subjectDecoder.DecodeHeader(s); err == nil {
		s = d
	}
	if len(s) > maxSubject {
		s = s[:maxSubject]
	}
	return s
}

// subjectCache keeps the subjects of queued messages by id (a queue
// file's header never changes), so that a search reads each file once.
type subjectCache struct {
	dir string
	mu  sync.Mutex
	m   map[string]string
}

func newSubjectCache(dir string) *subjectCache {
	return &subjectCache{dir: dir, m: map[string]string{}}
}

// get returns the subjects of items, reading the files not read before;
// a file that cannot be read gives "" (it may have just left the queue).
// Ids no longer queued are forgotten.
func (sc *subjectCache) get(items []spool.Item) map[string]string {
	out := make(map[string]string, len(items))
	var missing []string
	sc.mu.Lock()
	for _, it := range items {
		if s, ok := sc.m[it.ID]; ok {
			out[it.ID] = s
		} else {
			missing = append(missing, it.ID)
		}
	}
	sc.mu.Unlock()
	if len(missing) == 0 {
		return out
	}
	for _, id := range missing {
		if d, err := spool.ReadDetail(sc.dir, id); err == nil {
			out[id] = subjectOf(d.Header)
		}
	}
	sc.mu.Lock()
	for _, id := range missing {
		sc.m[id] = out[id]
	}
	sc.mu.Unlock()
	return out
}

// prune forgets the ids that left the queue.
func (sc *subjectCache) prune(items []spool.Item) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.m) <= 2*len(items)+100 {
		return
	}
	keep := make(map[string]string, len(items))
	for _, it := range items {
		if s, ok := sc.m[it.ID]; ok {
			keep[it.ID] = s
		}
	}
	sc.m = keep
}

// warmEvery is how often Warm reads the subjects of newly queued mail.
const warmEvery = 15 * time.Second

// Warm reads the subjects of the queued messages in the background, at
// start and then every warmEvery, until ctx ends, so that a search of a
// large queue finds them read already (the first read of 10,000 queue
// files takes about half a second).
func (c *Console) Warm(ctx context.Context) {
	if c.o.Queue == nil {
		return
	}
	t := time.NewTicker(warmEvery)
	defer t.Stop()
	for {
		c.subjects.get(c.o.Queue.Items())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
