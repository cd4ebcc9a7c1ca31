package dkim

import (
	"bytes"
	"context"
	"crypto"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	pdns "postern/internal/dns"
	"postern/internal/dnstest"
)

// oracle is what the differential tests need: an RSA and an Ed25519 key
// with their records served by the loopback DNS server.
type oracle struct {
	rsa, ed crypto.Signer
	res     pdns.Resolver
}

func newOracle(t testing.TB) *oracle {
	t.Helper()
	rk, _, err := GenerateKey(AlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	ek, _, err := GenerateKey(AlgoEd25519)
	if err != nil {
		t.Fatal(err)
	}
	rrec, _ := PublicRecord(rk)
	erec, _ := PublicRecord(ek)
	srv := dnstest.Start(t, dnstest.Zone{
		"r._domainkey.example.org TXT": {rrec},
		"e._domainkey.example.org TXT": {erec},
	})
	return &oracle{rsa: rk, ed: ek, res: srv.Resolver()}
}

// sign signs msg with go-msgauth: the key, canonicalizations and h= are
// chosen by the bits of mode.
func (o *oracle) sign(msg []byte, mode byte) ([]byte, error) {
	opt := &msgdkim.SignOptions{Domain: "example.org", Selector: "r", Signer: o.rsa, Hash: crypto.SHA256}
	if mode&1 != 0 {
		opt.Selector, opt.Signer = "e", o.ed
	}
	if mode&2 != 0 {
		opt.HeaderCanonicalization = msgdkim.CanonicalizationRelaxed
	}
	if mode&4 != 0 {
		opt.BodyCanonicalization = msgdkim.CanonicalizationRelaxed
	}
	if mode&8 != 0 {
		// Oversigned, as postern signs.
		opt.HeaderKeys = []string{"From", "From", "Subject", "Subject", "To", "To", "X-A", "X-A"}
	}
	var out bytes.Buffer
	if err := msgdkim.Sign(&out, bytes.NewReader(msg), opt); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// theirs verifies with go-msgauth; ok is false when it could not read
// the message at all.
func (o *oracle) theirs(msg []byte) (pass []bool, ok bool) {
	verifs, err := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			return o.res.LookupTXT(context.Background(), name)
		},
		MaxVerifications: DefaultMaxSignatures,
	})
	if err != nil && err != msgdkim.ErrTooManySignatures {
		return nil, false
	}
	for _, v := range verifs {
		pass = append(pass, v.Err == nil)
	}
	return pass, true
}

// mutate changes a signed message as relays and attackers do, driven by
// the bytes of ops: byte flips, header fields reordered or repeated,
// white space changed in the header or the body.
func mutate(msg, ops []byte) []byte {
	m := append([]byte(nil), msg...)
	for len(ops) >= 3 {
		op, a, b := ops[0], int(ops[1]), int(ops[2])
		ops = ops[3:]
		headEnd := bytes.Index(m, []byte("\r\n\r\n"))
		if headEnd < 0 {
			headEnd = len(m)
		} else {
			headEnd += 2
		}
		fields := splitFields(m[:headEnd], nil)
		switch op % 7 {
		case 0: // flip a byte
			if len(m) > 0 {
				m[(a<<8|b)%len(m)] ^= byte(1 << (b % 8))
			}
		case 1: // swap two header fields
			if len(fields) > 1 {
				x, y := fields[a%len(fields)], fields[b%len(fields)]
				if x.start > y.start {
					x, y = y, x
				}
				if x.start != y.start {
					var n []byte
					n = append(n, m[:x.start]...)
					n = append(n, m[y.start:y.end]...)
					n = append(n, m[x.end:y.start]...)
					n = append(n, m[x.start:x.end]...)
					n = append(n, m[y.end:]...)
					m = n
				}
			}
		case 2: // repeat a header field at the top or at the end
			if len(fields) > 0 {
				f := fields[a%len(fields)]
				at := 0
				if b&1 != 0 {
					at = fields[len(fields)-1].end
				}
				m = insert(m, at, append([]byte(nil), m[f.start:f.end]...))
			}
		case 3: // white space in the header: a space doubled, a tab, a fold
			if sp := nthIndex(m[:headEnd], ' ', a); sp >= 0 {
				ws := [][]byte{[]byte(" "), []byte("\t"), []byte("\r\n "), []byte("  \t")}[b%4]
				m = insert(m, sp, ws)
			}
		case 4: // white space in the body: doubled, at a line end, a tab
			if sp := nthIndex(m[headEnd:], ' ', a); sp >= 0 {
				ws := [][]byte{[]byte(" "), []byte("\t"), []byte(" \t ")}[b%3]
				m = insert(m, headEnd+sp, ws)
			} else if nl := nthIndex(m[headEnd:], '\r', a); nl >= 0 {
				m = insert(m, headEnd+nl, []byte(" "))
			}
		case 5: // empty lines added at the end, or text
			if b&1 != 0 {
				m = append(m, "\r\n\r\n"[:2*(1+a%2)]...)
			} else {
				m = append(m, "x\r\n"...)
			}
		case 6: // line ends: one CRLF made a bare LF
			if nl := nthIndex(m, '\r', a); nl >= 0 && nl+1 < len(m) && m[nl+1] == '\n' {
				m = append(m[:nl], m[nl+1:]...)
			}
		}
	}
	return m
}

func insert(m []byte, at int, s []byte) []byte {
	n := make([]byte, 0, len(m)+len(s))
	n = append(n, m[:at]...)
	n = append(n, s...)
	return append(n, m[at:]...)
}

// nthIndex returns the index of the (n mod count)th c in b, -1 if none.
func nthIndex(b []byte, c byte, n int) int {
	count := bytes.Count(b, []byte{c})
	if count == 0 {
		return -1
	}
	n %= count
	for i, x := range b {
		if x == c {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// buildMessage makes a message from fuzzed header text and body: each
// header line made a field (a name added where it has no colon), a From
// field unless there is one, then the body.
func buildMessage(hdr string, body []byte) []byte {
	var b bytes.Buffer
	hasFrom := false
	for _, line := range strings.Split(strings.ReplaceAll(hdr, "\r", ""), "\n") {
		if line == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, value, ok := strings.Cut(line, ":")
			switch {
			case !ok || strings.TrimSpace(name) == "":
				line = "X-A: " + line
			case strings.EqualFold(strings.TrimSpace(name), "from"):
				hasFrom = true
			default:
				// RFC 5322 3.6.8: a name is printable ASCII but the
				// colon; go-msgauth mangles others in h= (it drops any
				// Unicode white space and replaces invalid UTF-8).
				line = strings.Map(func(r rune) rune {
					if r < 33 || r > 126 {
						return 'x'
					}
					return r
				}, name) + ":" + value
			}
		} else if b.Len() == 0 {
			line = "X-A:" + line
		}
		b.WriteString(line + "\r\n")
	}
	if !hasFrom {
		b.WriteString("From: a@example.org\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// FuzzVerifyDifferential signs messages with go-msgauth, changes some,
// and checks that postern's verifier and go-msgauth's agree on which
// signatures pass.
func FuzzVerifyDifferential(f *testing.F) {
	f.Add("Subject: hello\nTo: b@example.net", []byte("Hi.\r\n\r\nBye.\r\n"), byte(0), []byte{})
	f.Add("Subject:  folded\n\tvalue  \nTo: b@example.net", []byte("a  b \t\r\n\r\n\r\n"), byte(6), []byte{3, 1, 2, 4, 0, 1})
	f.Add("From: x@example.org\nX-A: 1\nX-A: 2", []byte("line\n bare lf\n"), byte(15), []byte{2, 0, 1, 1, 0, 1})
	f.Add("Subject: x", []byte(""), byte(4+16), []byte{5, 0, 1, 6, 0, 0})
	f.Add("Subject: x", []byte("\r\n\r\n"), byte(2+16), []byte{0, 0, 3})
	f.Add("Subject: x\nTo: y", []byte("text \r\n"), byte(7+16), []byte{4, 2, 1, 3, 5, 2})
	f.Add("subject: Caps\nFROM: Z@example.org", []byte("body"), byte(2+8), []byte{1, 0, 1})
	o := newOracle(f)
	v := NewVerifier(VerifyOptions{})
	log := discard()
	f.Fuzz(func(t *testing.T, hdr string, body []byte, mode byte, ops []byte) {
		if len(hdr) > 4096 || len(body) > 1<<16 || len(ops) > 30 {
			return
		}
		msg := buildMessage(hdr, body)
		signed, err := o.sign(msg, mode)
		if err != nil {
			return
		}
		if mode&16 != 0 {
			// A second signature, with the other key and the other
			// canonicalizations.
			if signed, err = o.sign(signed, ^mode&15|mode&8); err != nil {
				return
			}
		}
		changed := mutate(signed, ops)
		want, ok := o.theirs(changed)
		if !ok {
			return // go-msgauth cannot read it at all: no verdict to compare
		}
		rs, err := v.Verify(context.Background(), o.res, log, bytes.NewReader(changed))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if len(rs) != len(want) {
			t.Fatalf("%d results, go-msgauth %d\n%q", len(rs), len(want), changed)
		}
		for i, r := range rs {
			if (r.Result == Pass) != want[i] {
				t.Fatalf("signature %d: postern %s (%v), go-msgauth pass=%v\n%q", i, r.Result, r.Err, want[i], changed)
			}
		}
		if len(ops) == 0 && len(rs) > 0 && rs[0].Result != Pass {
			t.Fatalf("unchanged message does not pass: %+v", rs[0])
		}
	})
}
