package milter

import (
	"strings"
	"testing"

	gomilter "github.com/emersion/go-milter"

	"postern/internal/inbound"
	"postern/internal/milter/spec"
)

func TestDiscardAndQuarantine(t *testing.T) {
	for _, stage := range []string{"mail", "rcpt", "eoh", "eom"} {
		t.Run("discard at "+stage, func(t *testing.T) {
			tm := &testMilter{on: map[string]handler{stage: answer(gomilter.RespDiscard)}}
			c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
			cl, _ := connect(t, c, "mta")
			v, _ := cl.transaction(testMsg)
			if v == nil || v.Reply != nil || v.Action != inbound.Discard {
				t.Fatalf("verdict %+v, want discard", v)
			}
		})
	}
	t.Run("quarantine", func(t *testing.T) {
		tm := &testMilter{on: map[string]handler{"eom": func(m *gomilter.Modifier) (gomilter.Response, error) {
			return gomilter.RespAccept, m.Quarantine("looks like phishing")
		}}}
		c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
		cl, _ := connect(t, c, "mta")
		v, _ := cl.transaction(testMsg)
		if v == nil || v.Reply != nil || v.Action != inbound.Hold || !strings.Contains(v.Rule, "looks like phishing") {
			t.Fatalf("verdict %+v, want hold", v)
		}
	})
}

func TestHeaderChanges(t *testing.T) {
	tm := &testMilter{on: map[string]handler{"eom": func(m *gomilter.Modifier) (gomilter.Response, error) {
		for _, err := range []error{
			m.AddHeader("X-Spam-Score", "1.5"),
			m.ChangeHeader(1, "Subject", "[SPAM] lunch"),
			m.ChangeHeader(1, "X-Folded", ""), // delete
			m.InsertHeader(0, "DKIM-Signature", "v=1; a=rsa-sha256; d=example.org;\r\n\tb=abc"),
			m.ChangeHeader(2, "To", "added because there is no second To"),
		} {
			if err != nil {
				return nil, err
			}
		}
		return gomilter.RespAccept, nil
	}}}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
	cl, _ := connect(t, c, "mta")
	v, msg := cl.transaction(testMsg)
	if v != nil {
		t.Fatal(v)
	}
	want := "DKIM-Signature: v=1; a=rsa-sha256; d=example.org;\r\n\tb=abc\r\n" +
		"From: Alice <alice@example.org>\r\n" +
		"To: bob@example.test\r\n" +
		"Subject: [SPAM] lunch\r\n" +
		"Message-Id: <m1@example.org>\r\n" +
		"X-Spam-Score: 1.5\r\n" +
		"To: added because there is no second To\r\n" +
		"\r\n" +
		"Is lunch ready?\r\n"
	if msg != want {
		t.Errorf("message\n%q\nwant\n%q", msg, want)
	}
}

func TestReplaceBody(t *testing.T) {
	// More than one 64 KiB chunk each way.
	big := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 3000)
	newBody := strings.Repeat("replaced line of the new body..\r\n", 5000)
	tm := &testMilter{on: map[string]handler{"eom": func(m *gomilter.Modifier) (gomilter.Response, error) {
		b := []byte(newBody)
		for len(b) > 0 {
			n := min(len(b), 60000)
			if err := m.ReplaceBody(b[:n]); err != nil {
				return nil, err
			}
			b = b[n:]
		}
		return gomilter.RespAccept, nil
	}}}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
	cl, _ := connect(t, c, "mta")
	v, msg := cl.transaction("Subject: big\r\n\r\n" + big)
	if v != nil {
		t.Fatal(v)
	}
	tm.mu.Lock()
	gotBody := tm.body.String()
	tm.mu.Unlock()
	if gotBody != big {
		t.Errorf("milter got %d body bytes, want %d", len(gotBody), len(big))
	}
	// go-milter sends LF line ends; postern stores CRLF.
	if msg != "Subject: big\r\n\r\n"+newBody {
		t.Errorf("replaced message has %d bytes, want %d; starts %q", len(msg), len(newBody)+16, msg[:min(len(msg), 80)])
	}
}

func TestRecipientAndSenderChanges(t *testing.T) {
	tm := &testMilter{on: map[string]handler{"eom": func(m *gomilter.Modifier) (gomilter.Response, error) {
		for _, err := range []error{
			m.AddRecipient("archive@example.test"),
			m.AddRecipient("Bob@example.test"), // already there
			m.DeleteRecipient("bob@example.test"),
			m.AddRecipient("carol@Example.TEST"),
			m.ChangeFrom("<bounces@example.org>"),
		} {
			if err != nil {
				return nil, err
			}
		}
		return gomilter.RespAccept, nil
	}}}
	c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, allActions)})
	cl, _ := connect(t, c, "mta")
	if v, _ := cl.transaction(testMsg); v != nil {
		t.Fatal(v)
	}
	var got []string
	for _, r := range cl.txn.Env.Rcpts {
		got = append(got, r.Addr)
	}
	if strings.Join(got, " ") != "archive@example.test carol@example.test" {
		t.Errorf("recipients %q", got)
	}
	if cl.txn.Env.From != "bounces@example.org" || cl.txn.From.String() != "bounces@example.org" {
		t.Errorf("sender %q / %q", cl.txn.Env.From, cl.txn.From)
	}
}

func TestBadChangesFailTheMilter(t *testing.T) {
	for name, h := range map[string]handler{
		"bad recipient": func(m *gomilter.Modifier) (gomilter.Response, error) {
			return gomilter.RespAccept, m.AddRecipient("no spaces allowed@example.test")
		},
		"bad header name": func(m *gomilter.Modifier) (gomilter.Response, error) {
			m.AddRecipient("carol@example.test")
			m.ChangeFrom("<x@example.org>")
			return gomilter.RespAccept, m.AddHeader("Bad Name", "x")
		},
		"not negotiated": func(m *gomilter.Modifier) (gomilter.Response, error) {
			return gomilter.RespAccept, m.ChangeFrom("<x@example.org>")
		},
	} {
		t.Run(name, func(t *testing.T) {
			tm := &testMilter{on: map[string]handler{"eom": h}}
			actions := allActions
			if name == "not negotiated" {
				actions &^= gomilter.OptChangeFrom
			}
			c := newChecker(Filter{Name: "t", Socket: startMilter(t, tm, actions), OnFailure: spec.TempFail})
			cl, _ := connect(t, c, "mta")
			v, msg := cl.transaction(testMsg)
			refusedWith(t, name, v, 451)
			if msg != testMsg || cl.txn.Env.From != "alice@example.org" || cl.txn.From.String() != "alice@example.org" || len(cl.txn.Env.Rcpts) != 1 {
				t.Errorf("message or envelope changed by a failed milter: %q %q", msg, cl.txn.Env.From)
			}
		})
	}
}
