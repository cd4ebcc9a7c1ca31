package inbound

import (
	"strings"
	"testing"
)

func TestHopCounter(t *testing.T) {
	tests := []struct {
		msg  string
		want int
	}{
		{"Received: a\r\nreceived: b\r\nRECEIVED:c\r\nSubject: x\r\n\r\nReceived: in body\r\n", 3},
		{"Subject: x\r\n Received: continuation\r\n\r\n", 0},
		{"X-Received: no\r\nReceivedX: no\r\n\r\n", 0},
		{"\r\nReceived: body only\r\n", 0},
		{"Received: a\r\n\tfolded\r\nReceived: b\r\n\r\n", 2},
	}
	for _, tt := range tests {
		// Feed byte by byte and whole: same count.
		for _, step := range []int{1, 3, len(tt.msg)} {
			h := &hopCounter{}
			for i := 0; i < len(tt.msg); i += step {
				h.scan([]byte(tt.msg[i:min(i+step, len(tt.msg))]))
			}
			if h.n != tt.want {
				t.Errorf("%q step %d: %d hops, want %d", tt.msg, step, h.n, tt.want)
			}
		}
	}
}

func FuzzHopCounter(f *testing.F) {
	f.Add("Received: a\r\nSubject: b\r\n\r\nReceived: c\r\n", 2)
	f.Fuzz(func(t *testing.T, msg string, step int) {
		if step <= 0 || step > len(msg)+1 {
			step = len(msg) + 1
		}
		whole := &hopCounter{}
		whole.scan([]byte(msg))
		parts := &hopCounter{}
		for i := 0; i < len(msg); i += step {
			parts.scan([]byte(msg[i:min(i+step, len(msg))]))
		}
		if whole.n != parts.n {
			t.Fatalf("whole %d, in pieces %d", whole.n, parts.n)
		}
		if whole.n > strings.Count(strings.ToLower(msg), "received:") {
			t.Fatalf("counted %d", whole.n)
		}
	})
}
