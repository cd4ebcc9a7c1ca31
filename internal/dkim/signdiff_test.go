package dkim

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// oversign builds h= as postern did when it signed through go-msgauth:
// every field of signedHeaders as many times as it occurs plus once more.
// It is the reference for the h= postern's own signer writes.
func oversign(head []byte) []string {
	count := map[string]int{}
	for _, f := range headerFields(head) {
		count[strings.ToLower(fieldName(f))]++
	}
	var keys []string
	for _, h := range signedHeaders {
		for i := 0; i <= count[strings.ToLower(h)]; i++ {
			keys = append(keys, h)
		}
	}
	return keys
}

// headerFields splits a header block into fields, unfolded continuation
// lines kept with their field. Lines that are not fields (no colon) are
// kept as they are; the caller only looks at named fields.
func headerFields(h []byte) []string {
	var fields []string
	for _, line := range strings.SplitAfter(string(h), "\n") {
		if strings.TrimRight(line, "\r\n") == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] += line
			continue
		}
		fields = append(fields, line)
	}
	return fields
}

// fieldName returns the name of a header field, "" when the line has no
// colon.
func fieldName(f string) string {
	i := strings.IndexByte(f, ':')
	if i < 0 {
		return ""
	}
	return strings.TrimRight(f[:i], " \t")
}

// refHeader returns the header of msg as go-msgauth reads it: up to the
// first line that is "\r\n" or "\n". whole is msg as go-msgauth is given
// it: with the empty line added when there is none, as postern's signer
// takes such a message (all header, empty body).
func refHeader(msg []byte) (head, whole []byte) {
	for i := 0; i < len(msg); {
		nl := bytes.IndexByte(msg[i:], '\n')
		if nl < 0 {
			break
		}
		line := msg[i : i+nl+1]
		i += nl + 1
		if string(line) == "\n" || string(line) == "\r\n" {
			return msg[:i], msg
		}
	}
	whole = terminateHeader(append([]byte(nil), msg...))
	return whole, whole
}

var tTag = regexp.MustCompile(`; t=([0-9]+);`)

// refSign signs msg with go-msgauth as postern used to: relaxed/relaxed,
// SHA-256, h= from oversign. It returns the DKIM-Signature field and
// the time it put in t=.
func refSign(t testing.TB, msg []byte, key crypto.Signer, selector string) (string, time.Time, bool) {
	head, whole := refHeader(msg)
	sg, err := msgdkim.NewSigner(&msgdkim.SignOptions{
		Domain: "example.org", Selector: selector, Signer: key, Hash: crypto.SHA256,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
		BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
		HeaderKeys:             oversign(head),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, werr := sg.Write(whole)
	if err := sg.Close(); err != nil || werr != nil {
		return "", time.Time{}, false
	}
	sig := sg.Signature()
	m := tTag.FindStringSubmatch(sig)
	if m == nil {
		t.Fatalf("no t= in %q", sig)
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	return sig, time.Unix(sec, 0), true
}

// signDiff signs msg with go-msgauth and with postern's signer, key by
// key, at the same time, and fails unless the fields are the same byte
// for byte. It returns postern's fields for both keys, in one call.
func signDiff(t testing.TB, o *oracle, s *Signer, msg []byte) (string, bool) {
	t.Helper()
	keys := []activeKey{{selector: "r", key: o.rsa}, {selector: "e", key: o.ed}}
	var at time.Time
	for _, k := range keys {
		want, when, ok := refSign(t, msg, k.key, k.selector)
		if !ok {
			return "", false
		}
		got, err := s.signMessage("example.org", []activeKey{k}, bytes.NewReader(msg), when)
		if err != nil {
			t.Fatalf("signMessage: %v", err)
		}
		if got != want {
			t.Fatalf("%s: postern signed\n%q\ngo-msgauth\n%q\nmessage %q", KeyAlgo(k.key), got, want, msg)
		}
		at = when
	}
	both, err := s.signMessage("example.org", keys, bytes.NewReader(msg), at)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := s.signMessage("example.org", keys[:1], bytes.NewReader(msg), at)
	two, _ := s.signMessage("example.org", keys[1:], bytes.NewReader(msg), at)
	if both != one+two {
		t.Fatalf("two keys in one pass:\n%q\nwant\n%q", both, one+two)
	}
	return both, true
}

// signCases are the messages TestSignDifferential signs.
var signCases = map[string]string{
	"plain":     testMessage,
	"folded":    "Subject: a\r\n  folded\r\n\tvalue  \r\nFrom: x@example.org\r\nTo:\r\n b@example.net,\r\n c@example.net\r\n\r\nbody\r\n",
	"from only": "From: x@example.org\r\n\r\nHi.\r\n",
	"no from":   "Subject: none\r\n\r\nHi.\r\n",
	"repeated": "Received: a\r\nTo: 1@example.net\r\nFrom: x@example.org\r\nTo: 2@example.net\r\nSubject: one\r\n" +
		"Received: b\r\nSubject: two\r\nTo: 3@example.net\r\nfrom: second@example.org\r\n\r\nbody\r\n",
	"empty body":      "From: x@example.org\r\nSubject: empty\r\n\r\n",
	"no empty line":   "From: x@example.org\r\nSubject: no body",
	"header only LF":  "From: x@example.org\nSubject: no body\n",
	"trailing blanks": "From: x@example.org\r\n\r\ntext\r\n\r\n\r\n\r\n",
	"blank body":      "From: x@example.org\r\n\r\n\r\n\r\n \t \r\n",
	"white space":     "From :  x@example.org  \r\nSubject:\t a \t b \r\n\r\n a  b\t\tc  \r\n\t\r\nend \t\r\n",
	"long lines": "From: x@example.org\r\nSubject: " + strings.Repeat("long subject ", 200) + "\r\n\r\n" +
		strings.Repeat("x", 5000) + "\r\n" + strings.Repeat("word ", 3000) + "\r\n",
	"8-bit":    "From: Jos\xc3\xa9 <x@example.org>\r\nSubject: caf\xe9\r\n\r\nna\xefve \xc3\xbc\xff\r\n",
	"LF":       "From: x@example.org\nTo: y@example.net\nSubject: lf\n\nline 1\nline 2 \n\n",
	"mixed":    "From: x@example.org\r\nTo: y@example.net\nSubject: mixed\r\n\r\nline 1\nline 2\r\nbare\rcr\r\n",
	"upper":    "FROM: x@example.org\r\nSUBJECT: Caps\r\nmessage-id: <a@b>\r\n\r\nBody\r\n",
	"big body": "From: x@example.org\r\n\r\n" + strings.Repeat("All work and no play makes Jack a dull boy.\r\n", 5000),
	"big header": strings.Repeat("Received: from relay.example.net by mx.example.org\r\n", 2000) +
		"From: x@example.org\r\nTo: y@example.net\r\n\r\nbody\r\n",
	"many oversigned": strings.Repeat("To: y@example.net\r\n", 300) + "From: x@example.org\r\n\r\nbody\r\n",
}

// TestSignDifferential: postern's signer writes the same DKIM-Signature
// fields as go-msgauth for the same key, time and options, and the
// signed message verifies with both postern's verifier and go-msgauth's.
func TestSignDifferential(t *testing.T) {
	o := newOracle(t)
	s := NewSigner(discard(), SignOptions{})
	v := NewVerifier(VerifyOptions{})
	for name, msg := range signCases {
		t.Run(name, func(t *testing.T) {
			sigs, ok := signDiff(t, o, s, []byte(msg))
			if !ok {
				t.Fatal("go-msgauth could not sign it")
			}
			signed := sigs + msg
			rs, err := v.Verify(context.Background(), o.res, discard(), strings.NewReader(signed))
			if err != nil || len(rs) != 2 {
				t.Fatalf("postern's verifier: %v %v", rs, err)
			}
			for _, r := range rs {
				if r.Result != Pass {
					t.Errorf("postern's verifier: %s %s: %v", r.Algorithm, r.Result, r.Err)
				}
			}
			if _, whole := refHeader([]byte(msg)); string(whole) != msg {
				// go-msgauth does not read a message without the empty
				// line after its header; postern's verifier does.
				return
			}
			pass, ok := o.theirs([]byte(signed))
			if !ok || len(pass) != 2 || !pass[0] || !pass[1] {
				t.Errorf("go-msgauth's verifier: %v %v", pass, ok)
			}
		})
	}
}

// FuzzSignDifferential: for any message, postern's signer and
// go-msgauth's write the same fields, and when go-msgauth's verifier
// passes the signed message postern's does too.
func FuzzSignDifferential(f *testing.F) {
	for _, msg := range signCases {
		if len(msg) < 4096 {
			f.Add([]byte(msg))
		}
	}
	o := newOracle(f)
	s := NewSigner(discard(), SignOptions{})
	v := NewVerifier(VerifyOptions{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > 1<<17 {
			return
		}
		sigs, ok := signDiff(t, o, s, msg)
		if !ok {
			return
		}
		signed := append([]byte(sigs), msg...)
		pass, ok := o.theirs(signed)
		if !ok {
			return
		}
		rs, err := v.Verify(context.Background(), o.res, discard(), bytes.NewReader(signed))
		if err != nil || len(rs) < 2 {
			t.Fatalf("postern's verifier: %v %v", rs, err)
		}
		for i := range 2 {
			if i < len(pass) && pass[i] && rs[i].Result != Pass {
				t.Fatalf("go-msgauth passes signature %d, postern %s (%v)\n%q", i, rs[i].Result, rs[i].Err, signed)
			}
		}
	})
}

// TestSignConcurrent: one Signer used by many goroutines at once (as the
// server uses it) gives every message the signature it gives it alone;
// the buffers kept between messages are not shared.
func TestSignConcurrent(t *testing.T) {
	o := newOracle(t)
	s := NewSigner(discard(), SignOptions{})
	keys := []activeKey{{selector: "r", key: o.rsa}, {selector: "e", key: o.ed}}
	at := time.Unix(1_800_000_000, 0)
	var msgs, want []string
	for _, m := range signCases {
		msgs = append(msgs, m)
		w, err := s.signMessage("example.org", keys, strings.NewReader(m), at)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, w)
	}
	errs := make(chan string, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range msgs {
				j := (i + g) % len(msgs)
				got, err := s.signMessage("example.org", keys, strings.NewReader(msgs[j]), at)
				if err != nil || got != want[j] {
					errs <- fmt.Sprintf("message %d: %v\n%q\nwant\n%q", j, err, got, want[j])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
