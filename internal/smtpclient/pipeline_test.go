package smtpclient

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPipelinedReplies runs one pipelined transaction (MAIL, two RCPTs and
// DATA in one write) against a scripted server for each sequence of
// replies, and checks what the client reports per recipient, whether the
// content went out, and what it sent after the group.
func TestPipelinedReplies(t *testing.T) {
	type want struct {
		codes    [2]int // per recipient: 0 delivered, -1 an error without a reply
		whole    int    // code of Result.Whole; -1 an error without a reply
		dataSent bool
		content  string // what the server read after 354; "-" for no DATA phase
		usable   bool
		after    string // the command sent after DATA, "" for none
	}
	cases := []struct {
		name       string
		reply      map[string]string // by the recipient's local part or "MAIL"
		dataAnyway bool
		want       want
	}{
		{"all accepted", nil, false, want{[2]int{0, 0}, 0, true, "hello\r\n", true, ""}},
		{"some refused", map[string]string{"b": "550 5.1.1 no such user"}, false,
			want{[2]int{550, 0}, 0, true, "hello\r\n", true, ""}},
		{"all refused, DATA 554", map[string]string{"b": "550 5.1.1 no such user", "c": "451 4.7.1 greylisted"}, false,
			want{[2]int{550, 451}, 0, false, "-", true, "RSET"}},
		// RFC 2920 3.1: a 354 with no recipient gets a single dot, not RSET.
		{"all refused, DATA 354", map[string]string{"b": "550 5.1.1 no such user", "c": "451 4.7.1 greylisted"}, true,
			want{[2]int{550, 451}, 0, false, "", true, ""}},
		{"MAIL refused", map[string]string{"MAIL": "553 5.7.1 sender refused"}, false,
			want{[2]int{553, 553}, 553, false, "-", true, "RSET"}},
		{"421 mid-way", map[string]string{"c": "421 4.3.2 shutting down"}, false,
			want{[2]int{421, 421}, 421, false, "-", false, ""}},
		{"closed mid-way", map[string]string{"c": "close"}, false,
			want{[2]int{-1, -1}, -1, false, "-", false, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{ext: "250-PIPELINING\r\n", dataAnyway: tc.dataAnyway, dataReplies: []string{"250 2.0.0 queued"}}
			s.reply = func(cmd string) string {
				if strings.HasPrefix(cmd, "MAIL") {
					return tc.reply["MAIL"]
				}
				if local, ok := strings.CutPrefix(cmd, "RCPT TO:<"); ok {
					return tc.reply[strings.SplitN(local, "@", 2)[0]]
				}
				return ""
			}
			c := dial(t, startScripted(t, s), Options{CommandTimeout: 5 * time.Second})
			m := &Message{From: "a@x", Rcpts: []Rcpt{{Addr: "b@y"}, {Addr: "c@y"}}}
			res := c.Send(context.Background(), m, strings.NewReader("hello\r\n"))
			checkPipelined(t, c, s, res, tc.want.codes, tc.want.whole)
			if res.DataSent != tc.want.dataSent || c.Usable() != tc.want.usable {
				t.Errorf("DataSent %v usable %v, want %v %v", res.DataSent, c.Usable(), tc.want.dataSent, tc.want.usable)
			}
			if n := c.Messages(); (n == 1) != (tc.want.dataSent && tc.want.codes[1] == 0) {
				t.Errorf("messages counted %d", n)
			}
			content := "-"
			select {
			case content = <-s.data:
			case <-time.After(100 * time.Millisecond):
			}
			if content != tc.want.content {
				t.Errorf("content %q, want %q", content, tc.want.content)
			}
			cmds := drain(s.cmds)
			if !tc.want.usable {
				// The server stopped reading after its last reply.
				cmds = append(cmds, "DATA")
			}
			if len(cmds) < 5 || cmds[4] != "DATA" {
				t.Fatalf("commands %q: DATA not in the group", cmds)
			}
			after := strings.Join(cmds[5:], ",")
			if after != tc.want.after {
				t.Errorf("after the group %q, want %q", after, tc.want.after)
			}
		})
	}
}

func checkPipelined(t *testing.T, c *Client, s *scripted, res Result, codes [2]int, whole int) {
	t.Helper()
	for i, want := range codes {
		err := res.Rcpts[i]
		rep, isRep := IsReply(err)
		switch {
		case want == 0 && err != nil, want == -1 && (err == nil || isRep):
			t.Errorf("recipient %d: %v, want %d", i, err, want)
		case want > 0 && (!isRep || rep.Code != want):
			t.Errorf("recipient %d: %v, want %d", i, err, want)
		}
	}
	rep, isRep := IsReply(res.Whole)
	switch {
	case whole == 0 && res.Whole != nil, whole == -1 && (res.Whole == nil || isRep),
		whole > 0 && (!isRep || rep.Code != whole):
		t.Errorf("Whole %v, want %d", res.Whole, whole)
	}
}

func drain(ch chan string) []string {
	time.Sleep(20 * time.Millisecond) // the server's last commands
	var out []string
	for len(ch) > 0 {
		out = append(out, <-ch)
	}
	return out
}
