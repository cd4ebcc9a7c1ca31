package spool

import (
	"bytes"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"postern/internal/envelope"
)

// queueFile builds a queue file the way Commit does.
func queueFile(env *envelope.Envelope, content string) []byte {
	env.Size = int64(len(content))
	eb := env.Encode()
	b := append([]byte(content), eb...)
	return appendFooter(b, int64(len(content)), len(eb), crc32.Checksum([]byte(content), castagnoli), crc32.Checksum(eb, castagnoli))
}

func TestDecodeHeader(t *testing.T) {
	env := &envelope.Envelope{ID: "ABC", From: "a@b", Received: time.Unix(5, 0), Rcpts: []envelope.Recipient{{Addr: "c@d"}}}
	good := queueFile(env, "Subject: x\r\n\r\nhi\r\n")
	got, ft, err := decodeHeader(bytes.NewReader(good), int64(len(good)), "ABC")
	if err != nil {
		t.Fatal(err)
	}
	if got.From != "a@b" || ft.contentLen != 18 || got.Size != 18 {
		t.Errorf("decoded %+v %+v", got, ft)
	}
	if err := verifyContent(bytes.NewReader(good), ft); err != nil {
		t.Errorf("verifyContent: %v", err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	bad := []struct {
		name string
		data []byte
		id   string
	}{
		{"empty", nil, "ABC"},
		{"truncated", good[:len(good)-1], "ABC"},
		{"extended", append(bytes.Clone(good), 'x'), "ABC"},
		{"other id", good, "ABD"},
		{"envelope bit flip", flip(25), "ABC"},
		{"footer bit flip", flip(len(good) - 5), "ABC"},
		{"upper-case hex", []byte(strings.ToUpper(string(good))), "ABC"},
		{"content only", []byte("Subject: x\r\n\r\nhi\r\n"), "ABC"},
	}
	for _, tc := range bad {
		if _, _, err := decodeHeader(bytes.NewReader(tc.data), int64(len(tc.data)), tc.id); err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if _, ok := err.(*corruptError); !ok {
			t.Errorf("%s: %v is not a corruptError", tc.name, err)
		}
	}
	// Content corruption is found by verifyContent.
	b := flip(3)
	_, ft, err = decodeHeader(bytes.NewReader(b), int64(len(b)), "ABC")
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyContent(bytes.NewReader(b), ft); err == nil {
		t.Error("content bit flip not found")
	}
}

func FuzzDecodeQueueFile(f *testing.F) {
	env := &envelope.Envelope{ID: "ABC", From: "a@b", Rcpts: []envelope.Recipient{{Addr: "c@d"}}}
	f.Add(queueFile(env, "Subject: x\r\n\r\nhi\r\n"))
	f.Add(queueFile(&envelope.Envelope{ID: "ABC"}, ""))
	f.Add([]byte("\nPOSTERN1 0000000000000000 00000000 00000000 00000000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, ft, err := decodeHeader(bytes.NewReader(data), int64(len(data)), "ABC")
		if err != nil {
			return
		}
		if env.ID != "ABC" || env.Size != ft.contentLen || ft.contentLen+int64(ft.envLen)+int64(footerLen) != int64(len(data)) {
			t.Fatalf("inconsistent header accepted: %+v %+v", env, ft)
		}
		verifyContent(bytes.NewReader(data), ft)
	})
}

func TestParseState(t *testing.T) {
	var b []byte
	b = appendDelivered(b, 0, time.Unix(1, 0))
	b = appendFailed(b, 2, time.Unix(2, 0), "550 5.1.1 no such user\nsecond line")
	b = appendAttempt(b, time.Unix(3, 0), time.Unix(300, 0), "451 try later")
	b = append(b, "garbage line\ndelivered 9 5\ndelivered -1 5\nfailed 1 5 unquoted\n"...)
	b = appendAttempt(b, time.Unix(4, 0), time.Unix(400, 0), "second")
	b = appendHold(b, true, time.Unix(5, 0))
	b = appendHold(b, false, time.Unix(6, 0))
	b = append(b, "hold x\n"...)
	b = appendEvent(b, "flush", time.Unix(7, 0))
	b = append(b, "warned x\nflush\n"...)
	b = append(b, "delivered 1 12"...) // torn: no newline
	st := parseState(b, 3)
	if !st.delivered[0] || st.delivered[1] || len(st.delivered) != 1 {
		t.Errorf("delivered = %v", st.delivered)
	}
	if st.failed[2] != "550 5.1.1 no such user\nsecond line" || len(st.failed) != 1 {
		t.Errorf("failed = %v", st.failed)
	}
	if st.hold != -1 || st.held(true) {
		t.Errorf("hold state %d, want released", st.hold)
	}
	if st.warned || !st.flushWanted() || !st.flush.Equal(time.Unix(7, 0)) {
		t.Errorf("warned %v, flush %v", st.warned, st.flush)
	}
	if st2 := parseState(appendEvent(appendEvent(nil, "warned", time.Unix(1, 0)), "flush", time.Unix(1, 0)), 1); !st2.warned || !st2.flushWanted() {
		t.Errorf("warned and flush records not read: %+v", st2)
	}
	if st3 := parseState(appendAttempt(appendEvent(nil, "flush", time.Unix(1, 0)), time.Unix(2, 0), time.Unix(3, 0), "x"), 1); st3.flushWanted() {
		t.Error("a flush followed by an attempt is still wanted")
	}
	if st.attempts != 2 || st.lastErr != "second" || !st.next.Equal(time.Unix(400, 0)) || !st.last.Equal(time.Unix(4, 0)) {
		t.Errorf("attempts %d, last error %q, next %v", st.attempts, st.lastErr, st.next)
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte("delivered 0 1\nfailed 1 2 \"x\"\nattempt 3 4 \"y\"\n"), 2)
	f.Add([]byte("attempt 1 2 \"\\xff\"\ndelivered 0"), 1)
	f.Add([]byte("warned 5\nflush 6\nflush x\nhold 1\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		st := parseState(data, n)
		for i := range st.delivered {
			if i < 0 || i >= n {
				t.Fatalf("delivered index %d out of range %d", i, n)
			}
		}
		for i := range st.failed {
			if i < 0 || i >= n {
				t.Fatalf("failed index %d out of range %d", i, n)
			}
		}
	})
}
