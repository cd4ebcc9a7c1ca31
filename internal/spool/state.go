package spool

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// The state file queue/ID.state is append-only text, one record per line:
//
//	delivered IDX UNIXNANO
//	failed IDX UNIXNANO "error"
//	attempt UNIXNANO NEXT-UNIXNANO "error"
//	hold UNIXNANO
//	release UNIXNANO
//	warned UNIXNANO
//	flush UNIXNANO
//	requeue UNIXNANO
//
// IDX is the recipient's index in the envelope. delivered and failed are
// final and fsynced before the message can be retried; attempt records
// (for retries and `postern queue list`) are not. hold and release
// (fsynced) override the envelope's Hold flag; the last one counts.
// warned says the delay notice was sent (it is sent once). flush, written
// by `postern queue flush` while no server runs, asks the next server to
// try the message at once, even in deferred mode, unless an attempt
// followed it. requeue (`postern queue requeue`) forgets the attempts
// before it and asks for an attempt as flush does. A line that does not
// parse, such as a torn last line after a crash, is ignored: the worst it
// can cause is one more delivery attempt, which local delivery detects.

// msgState is what a state file says.
type msgState struct {
	delivered map[int]bool
	failed    map[int]string
	attempts  int
	last      time.Time // last attempt
	next      time.Time // next attempt as planned then
	lastErr   string
	hold      int       // 0: as the envelope says; 1: held; -1: released
	warned    bool      // the delay notice was sent
	flush     time.Time // last flush request
	history   []Attempt // the attempts recorded, oldest first
}

// flushWanted reports a flush request that no attempt has followed.
func (st msgState) flushWanted() bool {
	return !st.flush.IsZero() && !st.flush.Before(st.last)
}

// parseState reads state records; bad lines are skipped.
func parseState(data []byte, nrcpts int) msgState {
	st := msgState{delivered: map[int]bool{}, failed: map[int]string{}}
	for len(data) > 0 {
		i := strings.IndexByte(string(data), '\n')
		if i < 0 {
			break // torn last line
		}
		line := string(data[:i])
		data = data[i+1:]
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "delivered":
			f := strings.Fields(rest)
			if len(f) != 2 {
				continue
			}
			idx, err := strconv.Atoi(f[0])
			if err != nil || idx < 0 || idx >= nrcpts {
				continue
			}
			if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
				continue
			}
			st.delivered[idx] = true
		case "failed":
			a, rest, _ := strings.Cut(rest, " ")
			b, q, _ := strings.Cut(rest, " ")
			idx, err := strconv.Atoi(a)
			if err != nil || idx < 0 || idx >= nrcpts {
				continue
			}
			if _, err := strconv.ParseInt(b, 10, 64); err != nil {
				continue
			}
			msg, err := strconv.Unquote(q)
			if err != nil || !strings.HasPrefix(q, `"`) {
				continue
			}
			st.failed[idx] = msg
		case "hold", "release":
			if _, err := strconv.ParseInt(rest, 10, 64); err != nil {
				continue
			}
			st.hold = 1
			if kind == "release" {
				st.hold = -1
			}
		case "warned", "flush", "requeue":
			t, err := strconv.ParseInt(rest, 10, 64)
			if err != nil {
				continue
			}
			switch kind {
			case "warned":
				st.warned = true
			case "requeue":
				st.attempts = 0
				fallthrough
			default:
				st.flush = time.Unix(0, t)
			}
		case "attempt":
			a, rest, _ := strings.Cut(rest, " ")
			b, q, _ := strings.Cut(rest, " ")
			t, err1 := strconv.ParseInt(a, 10, 64)
			n, err2 := strconv.ParseInt(b, 10, 64)
			msg, err3 := strconv.Unquote(q)
			if err1 != nil || err2 != nil || err3 != nil || !strings.HasPrefix(q, `"`) {
				continue
			}
			st.attempts++
			st.last, st.next, st.lastErr = time.Unix(0, t), time.Unix(0, n), msg
			st.history = append(st.history, Attempt{Time: st.last, Next: st.next, Error: msg})
		}
	}
	return st
}

func appendDelivered(b []byte, idx int, t time.Time) []byte {
	b = append(b, "delivered "...)
	b = strconv.AppendInt(b, int64(idx), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	return append(b, '\n')
}

func appendFailed(b []byte, idx int, t time.Time, msg string) []byte {
	b = append(b, "failed "...)
	b = strconv.AppendInt(b, int64(idx), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, msg)
	return append(b, '\n')
}

func appendHold(b []byte, hold bool, t time.Time) []byte {
	if hold {
		b = append(b, "hold "...)
	} else {
		b = append(b, "release "...)
	}
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	return append(b, '\n')
}

// held tells whether a message is held, from its envelope and state.
func (st msgState) held(envHold bool) bool {
	switch st.hold {
	case 1:
		return true
	case -1:
		return false
	}
	return envHold
}

// appendEvent appends a record of kind ("warned", "flush") at t.
func appendEvent(b []byte, kind string, t time.Time) []byte {
	b = append(b, kind...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	return append(b, '\n')
}

func appendAttempt(b []byte, t, next time.Time, msg string) []byte {
	b = append(b, "attempt "...)
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, next.UnixNano(), 10)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, msg)
	return append(b, '\n')
}

// readState reads the state file at path; a missing file is an empty
// state.
func readState(path string, nrcpts int) (msgState, bool, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return parseState(nil, nrcpts), false, nil
	}
	if err != nil {
		return msgState{}, false, err
	}
	return parseState(data, nrcpts), true, nil
}

// appendState appends records to the state file at path, fsyncing it when
// durable is set. It reports whether the file was created.
func appendState(path string, records []byte, durable bool) (created bool, err error) {
	_, statErr := os.Lstat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return false, err
	}
	if _, err = f.Write(records); err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return os.IsNotExist(statErr), err
}
