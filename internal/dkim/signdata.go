package dkim

import (
	"bufio"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"
)

// signState is the working memory of one signing, kept from one message
// to the next.
type signState struct {
	br     *bufio.Reader
	head   []byte // the header, when it does not fit in br's buffer
	fields []hfield
	data   []byte // the signed header fields, canonicalized
	hdrs   []byte // the value of h=
	field  []byte // a DKIM-Signature field being built
	canon  []byte // the same, canonicalized for hashing
	b64    []byte // bh=
	sigB64 []byte // b=
	body   bodyHasher
	bodyH  hash.Hash
	headH  hash.Hash
	bh     [32]byte
	hashed [32]byte
}

func (s *Signer) state(msg io.Reader) *signState {
	st, _ := s.states.Get().(*signState)
	if st == nil {
		st = &signState{br: bufio.NewReaderSize(msg, readerSize), bodyH: sha256.New(), headH: sha256.New()}
	} else {
		st.br.Reset(msg)
	}
	return st
}

func (s *Signer) putState(st *signState) {
	st.br.Reset(nil)
	s.states.Put(st)
}

// signMessage reads msg once: the header, then the body through the
// relaxed body canonicalization (the verifier's), and returns one
// DKIM-Signature field per key. The fields are laid out as go-msgauth
// lays them out, tags in alphabetical order, so that they stay the same
// byte for byte.
func (s *Signer) signMessage(domain string, keys []activeKey, msg io.Reader, now time.Time) (string, error) {
	st := s.state(msg)
	defer s.putState(st)
	head, inPlace := peekHeader(st.br)
	if !inPlace {
		var err error
		if head, err = readHeaderBlock(st.br, st.head[:0]); err != nil {
			return "", err
		}
		st.head = head
	}
	// The signed fields are copied out, canonicalized, before the body
	// is read: an in-place header is gone once br reads on.
	st.fields = splitFields(head, st.fields[:0])
	st.data, st.hdrs = st.appendSignedFields(head, st.data[:0], st.hdrs[:0])
	if inPlace {
		st.br.Discard(len(head))
	}
	if err := st.hashBody(); err != nil {
		return "", err
	}
	st.b64 = base64.StdEncoding.AppendEncode(st.b64[:0], st.bh[:])
	var out strings.Builder
	out.Grow(len(keys) * (len(st.hdrs) + 640))
	for _, k := range keys {
		if err := st.sign(&out, k, domain, now); err != nil {
			return "", err
		}
	}
	return out.String(), nil
}

// readHeaderBlock reads the header up to and including the empty line
// that ends it ("\r\n" or a bare "\n", as go-msgauth and the verifier
// take it), appended to dst; a message without one is all header, and
// gets the empty line (terminateHeader).
func readHeaderBlock(br *bufio.Reader, dst []byte) ([]byte, error) {
	lineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(dst)+len(chunk) > maxHeaderBytes {
			return nil, errors.New("dkim sign: message header too large")
		}
		empty := lineStart && (len(chunk) == 1 && chunk[0] == '\n' || len(chunk) == 2 && chunk[0] == '\r' && chunk[1] == '\n')
		dst = append(dst, chunk...)
		if empty {
			return dst, nil
		}
		lineStart = len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return terminateHeader(dst), nil
		default:
			return nil, fmt.Errorf("dkim sign: %w", err)
		}
	}
}

// appendSignedFields appends to data the fields signed, canonicalized
// relaxed, and to hdrs the h= list. Each name of signedHeaders is named
// once more than the header has it (oversigning, RFC 6376 8.15); its
// instances are taken bottom up (RFC 6376 5.4.2).
func (st *signState) appendSignedFields(head, data, hdrs []byte) ([]byte, []byte) {
	for _, name := range signedHeaders {
		n := 1
		for _, f := range st.fields {
			if countsAs(head[f.start:f.end], name) {
				n++
			}
		}
		for i := 0; i < n; i++ {
			if len(hdrs) > 0 {
				hdrs = append(hdrs, ':')
			}
			hdrs = append(hdrs, name...)
		}
		taken := 0
		for i := len(st.fields) - 1; i >= 0 && taken < n; i-- {
			f := st.fields[i]
			if sameName(f.name, []byte(name)) {
				data = appendRelaxedHeader(data, head[f.start:f.end])
				taken++
			}
		}
	}
	return data, hdrs
}

// countsAs reports whether field f is an instance of name as h= counts
// them: the text before the colon, white space after it dropped, equal
// to name in lower case. A field without a colon counts as none.
func countsAs(f []byte, name string) bool {
	c := indexColon(f)
	if c < 0 {
		return false
	}
	k := f[:c]
	for len(k) > 0 && (k[len(k)-1] == ' ' || k[len(k)-1] == '\t') {
		k = k[:len(k)-1]
	}
	for _, b := range k {
		if b >= 0x80 {
			return strings.ToLower(string(k)) == strings.ToLower(name)
		}
	}
	return len(k) == len(name) && strings.EqualFold(string(k), name)
}

// hashBody hashes the rest of br, the body, canonicalized relaxed.
func (st *signState) hashBody() error {
	st.body.reset(canonRelaxed, st.bodyH)
	for {
		n := st.br.Buffered()
		if n == 0 {
			if _, err := st.br.Peek(1); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("dkim sign: reading body: %w", err)
			}
			n = st.br.Buffered()
		}
		p, _ := st.br.Peek(n)
		st.body.write(p)
		st.br.Discard(n)
	}
	st.body.sum(st.bh[:0])
	return nil
}

// sign writes the DKIM-Signature field of key k to out: the tags, b=
// empty, hashed after the signed fields (RFC 6376 3.7), the hash signed
// (RSASSA-PKCS1-v1_5 over SHA-256, or Ed25519 over the hash, RFC 8463
// 3), and b= filled in. st.b64 holds bh=. Both signatures are
// deterministic and take no randomness.
func (st *signState) sign(out *strings.Builder, k activeKey, domain string, now time.Time) error {
	algo, opts := "rsa-sha256", crypto.SignerOpts(crypto.SHA256)
	if KeyAlgo(k.key) == AlgoEd25519 {
		algo, opts = "ed25519-sha256", crypto.Hash(0)
	}
	var tbuf [20]byte
	tw := tagWriter{buf: append(st.field[:0], "DKIM-Signature:"...)}
	tw.lineStart = len(tw.buf)
	tw.add("a", []byte(algo))
	tw.add("bh", st.b64)
	tw.add("c", []byte("relaxed/relaxed"))
	tw.add("d", []byte(domain))
	tw.add("h", st.hdrs)
	tw.add("s", []byte(k.selector))
	tw.add("t", strconv.AppendInt(tbuf[:0], now.Unix(), 10))
	tw.add("v", []byte("1"))
	field := append(tw.buf, "\r\n b=\r\n"...)
	st.field = field
	canon := appendRelaxedHeader(st.canon[:0], field)
	for len(canon) > 0 && (canon[len(canon)-1] == '\r' || canon[len(canon)-1] == '\n') {
		canon = canon[:len(canon)-1]
	}
	st.canon = canon
	st.headH.Reset()
	st.headH.Write(st.data)
	st.headH.Write(canon)
	sig, err := k.key.Sign(nil, st.headH.Sum(st.hashed[:0]), opts)
	if err != nil {
		return fmt.Errorf("dkim sign %s: %w", domain, err)
	}
	b := base64.StdEncoding.AppendEncode(st.sigB64[:0], sig)
	st.sigB64 = b
	// go-msgauth folds " b=..." in pieces of 75 octets.
	out.Write(tw.buf)
	out.WriteString("\r\n b=")
	first := min(72, len(b))
	out.Write(b[:first])
	for i := first; i < len(b); i += 75 {
		out.WriteString("\r\n ")
		out.Write(b[i:min(i+75, len(b))])
	}
	out.WriteString("\r\n")
	return nil
}

// tagWriter lays out tags as go-msgauth does: " k=v;" each, a line
// break before a tag that would take the line past 75 octets.
type tagWriter struct {
	buf       []byte
	lineStart int
}

func (w *tagWriter) add(k string, v []byte) {
	if 3+len(w.buf)-w.lineStart+len(v)+len(k) > 75 {
		w.buf = append(w.buf, '\r', '\n')
		w.lineStart = len(w.buf)
	}
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, k...)
	w.buf = append(w.buf, '=')
	w.buf = append(w.buf, v...)
	w.buf = append(w.buf, ';')
}
