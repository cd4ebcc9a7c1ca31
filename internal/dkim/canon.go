package dkim

import (
	"bytes"
	"encoding"
	"hash"
	"strings"
)

// hfield is one header field in a header block: [start, end) covers its
// name, value and continuation lines with their line ends; name is its
// name without the white space around it.
type hfield struct {
	start, end int
	name       []byte
}

// normalizeLineEnds returns head with a CR put before every LF that
// lacks one, appended to dst; head itself when it needs no change. A
// header line ends at LF, with or without CR (as
// net/textproto.Reader.ReadLine reads it), and is hashed with CRLF.
func normalizeLineEnds(dst, head []byte) []byte {
	bare := false
	for i := 0; ; {
		nl := bytes.IndexByte(head[i:], '\n')
		if nl < 0 {
			break
		}
		i += nl
		if i == 0 || head[i-1] != '\r' {
			bare = true
			break
		}
		i++
	}
	if !bare {
		return head
	}
	dst = dst[:0]
	for i, c := range head {
		if c == '\n' && (i == 0 || head[i-1] != '\r') {
			dst = append(dst, '\r')
		}
		dst = append(dst, c)
	}
	return dst
}

// splitFields splits a header block with CRLF line ends into its fields,
// appended to dst, up to the empty line that ends it. A line starting
// with white space continues the field before it (RFC 5322 2.2.3); one
// at the very start is a field of its own.
func splitFields(head []byte, dst []hfield) []hfield {
	for i := 0; i < len(head); {
		end := len(head)
		if nl := bytes.IndexByte(head[i:], '\n'); nl >= 0 {
			end = i + nl + 1
		}
		line := head[i:end]
		if len(line) == 2 && line[0] == '\r' || len(line) == 1 && line[0] == '\n' {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(dst) > 0 {
			dst[len(dst)-1].end = end
		} else {
			dst = append(dst, hfield{start: i, end: end})
		}
		i = end
	}
	for k := range dst {
		f := head[dst[k].start:dst[k].end]
		if c := bytes.IndexByte(f, ':'); c >= 0 {
			f = f[:c]
		}
		dst[k].name = bytes.TrimSpace(f)
	}
	return dst
}

// sameName reports whether a field name equals a name from h=, letter
// case ignored.
func sameName(field, name []byte) bool {
	return bytes.EqualFold(field, name)
}

// isWSPorEOL is the white space relaxed header canonicalization folds:
// WSP and the CR and LF of folded lines.
func isWSPorEOL(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// appendRelaxedHeader appends field f canonicalized "relaxed" (RFC 6376
// 3.4.2): name in lower case, no white space around the colon, the
// value unfolded with each run of white space made one SP and none at
// its ends, then CRLF.
func appendRelaxedHeader(dst, f []byte) []byte {
	colon := bytes.IndexByte(f, ':')
	if colon < 0 {
		// Not a field (no colon): the whole line as its name.
		dst = appendLowerName(dst, f)
		return append(dst, ':', '\r', '\n')
	}
	dst = appendLowerName(dst, f[:colon])
	dst = append(dst, ':')
	v := f[colon+1:]
	first := true
	for i := 0; i < len(v); {
		for i < len(v) && isWSPorEOL(v[i]) {
			i++
		}
		if i == len(v) {
			break
		}
		j := i + 1
		for j < len(v) && !isWSPorEOL(v[j]) {
			j++
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = append(dst, v[i:j]...)
		i = j
	}
	return append(dst, '\r', '\n')
}

// appendLowerName appends a field name in lower case without the white
// space around it. Names are ASCII (RFC 5322 3.6.8); anything else is
// lowered as Unicode text, as the signer's library does.
func appendLowerName(dst, name []byte) []byte {
	for _, c := range name {
		if c >= 0x80 {
			return append(dst, strings.TrimSpace(strings.ToLower(string(name)))...)
		}
	}
	name = bytes.TrimSpace(name)
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendCanonHeader appends field f canonicalized with c.
func appendCanonHeader(dst, f []byte, c canon) []byte {
	if c == canonRelaxed {
		return appendRelaxedHeader(dst, f)
	}
	// RFC 6376 3.4.1: "simple" keeps the field as it is.
	return append(dst, f...)
}

// appendSigField appends the DKIM-Signature field f itself as hashed
// (RFC 6376 3.7): the value of b= (bStart to bEnd, up to the next ";"
// or the end of the field) taken as empty, canonicalized with c, without
// the CRLF at its end.
func appendSigField(dst, f []byte, bStart, bEnd int, c canon) []byte {
	start := len(dst)
	if c == canonRelaxed {
		var buf [2048]byte
		tmp := append(append(buf[:0], f[:bStart]...), f[bEnd:]...)
		dst = appendRelaxedHeader(dst, tmp)
	} else {
		dst = append(append(dst, f[:bStart]...), f[bEnd:]...)
	}
	for len(dst) > start && (dst[len(dst)-1] == '\r' || dst[len(dst)-1] == '\n') {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// bodyHasher canonicalizes a message body (RFC 6376 3.4.3, 3.4.4) into
// a hash as it streams past, a buffer at a time. Bare LF is taken as
// CRLF, as the signer's library takes it; a bare CR is kept.
type bodyHasher struct {
	c   canon
	h   hash.Hash
	out []byte // canonical bytes not yet hashed
	// simple: CRLFs held back (empty lines at the end are dropped,
	// RFC 6376 3.4.3), and a CR whose LF may follow.
	crlfs  int
	heldCR bool
	// relaxed: a run of WSP seen, the line ends held back (bytes, and
	// when there are very many, the hash state from before them), and
	// whether anything but white space was hashed.
	wsp     bool
	lastCR  bool
	brk     []byte
	spilled bool
	snap    []byte
	written bool
	crlfBuf []byte
}

// maxHeldBreaks bounds the line-end bytes a relaxed hasher holds; past
// it they are hashed, and the hash state from before them kept in case
// the body ends there.
const maxHeldBreaks = 4096

// flushOutAt is when the relaxed hasher hashes its output buffer.
const flushOutAt = 16 << 10

func (b *bodyHasher) reset(c canon, h hash.Hash) {
	h.Reset()
	*b = bodyHasher{c: c, h: h, out: b.out[:0], brk: b.brk[:0], crlfBuf: b.crlfBuf}
	if len(b.crlfBuf) == 0 {
		b.crlfBuf = bytes.Repeat([]byte("\r\n"), 256)
	}
}

func (b *bodyHasher) write(p []byte) {
	if b.c == canonRelaxed {
		b.relaxed(p)
	} else {
		b.simple(p)
	}
}

// writeCRLFs hashes n CRLFs.
func (b *bodyHasher) writeCRLFs(n int) {
	for n > 0 {
		k := min(n, len(b.crlfBuf)/2)
		b.h.Write(b.crlfBuf[:2*k])
		n -= k
	}
}

// simple is RFC 6376 3.4.3: the body as it is, except that empty lines
// at its end are dropped (and a CRLF added when it does not end in one).
func (b *bodyHasher) simple(p []byte) {
	for i := 0; i < len(p); {
		switch p[i] {
		case '\r':
			if b.heldCR {
				// The held CR was not followed by LF: it is data.
				b.writeCRLFs(b.crlfs)
				b.crlfs = 0
				b.h.Write(b.crlfBuf[:1])
			}
			b.heldCR = true
			i++
			continue
		case '\n':
			// CRLF, or a bare LF taken as CRLF.
			b.heldCR = false
			b.crlfs++
			i++
			continue
		}
		if b.crlfs > 0 || b.heldCR {
			b.writeCRLFs(b.crlfs)
			if b.heldCR {
				b.h.Write(b.crlfBuf[:1])
			}
			b.crlfs, b.heldCR = 0, false
		}
		// Hash as one piece everything up to a line end not followed
		// by more text in p, or a bare LF.
		j := i
		for {
			nl := bytes.IndexByte(p[j:], '\n')
			if nl < 0 {
				j = len(p)
				for j > i && p[j-1] == '\r' {
					j--
				}
				break
			}
			k := j + nl
			if p[k-1] != '\r' {
				j = k // bare LF
				break
			}
			if k+1 < len(p) && p[k+1] != '\r' && p[k+1] != '\n' {
				j = k + 1
				continue
			}
			j = k - 1
			break
		}
		b.h.Write(p[i:j])
		i = j
	}
}

// relaxedPlain marks the octets relaxed body canonicalization keeps as
// they are: all but WSP, CR and LF.
var relaxedPlain = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	t[' '], t['\t'], t['\r'], t['\n'] = false, false, false, false
	return t
}()

// relaxed is RFC 6376 3.4.4: white space at line ends dropped, other
// runs of WSP made one SP, empty lines at the end dropped.
func (b *bodyHasher) relaxed(p []byte) {
	for i := 0; i < len(p); {
		c := p[i]
		switch c {
		case ' ', '\t':
			b.wsp, b.lastCR = true, false
			i++
			continue
		case '\r':
			b.wsp, b.lastCR = false, true
			if len(b.brk) < maxHeldBreaks {
				b.brk = append(b.brk, '\r')
			} else {
				b.holdBreak('\r')
			}
			i++
			continue
		case '\n':
			if len(b.brk)+2 < maxHeldBreaks {
				if !b.lastCR {
					b.brk = append(b.brk, '\r')
				}
				b.brk = append(b.brk, '\n')
			} else {
				if !b.lastCR {
					b.holdBreak('\r')
				}
				b.holdBreak('\n')
			}
			b.wsp, b.lastCR = false, false
			i++
			continue
		}
		b.lastCR = false
		if len(b.brk) > 0 || b.spilled {
			b.out = append(b.out, b.brk...)
			b.brk, b.spilled = b.brk[:0], false
		}
		if b.wsp {
			b.out = append(b.out, ' ')
			b.wsp = false
		}
		// Text, and single SPs between text, go through as they are.
		j := i + 1
		for j < len(p) {
			if relaxedPlain[p[j]] {
				j++
			} else if p[j] == ' ' && j+1 < len(p) && relaxedPlain[p[j+1]] {
				j += 2
			} else {
				break
			}
		}
		b.out = append(b.out, p[i:j]...)
		b.written = true
		i = j
		if len(b.out) >= flushOutAt {
			b.h.Write(b.out)
			b.out = b.out[:0]
		}
	}
}

// holdBreak keeps a line-end octet until it is known whether text
// follows it.
func (b *bodyHasher) holdBreak(c byte) {
	if len(b.brk) >= maxHeldBreaks {
		b.h.Write(b.out)
		b.out = b.out[:0]
		if !b.spilled {
			if m, ok := b.h.(encoding.BinaryMarshaler); ok {
				b.snap, _ = m.MarshalBinary()
			}
			b.spilled = true
		}
		b.h.Write(b.brk)
		b.brk = b.brk[:0]
	}
	b.brk = append(b.brk, c)
}

// sum finishes the body and returns its hash, appended to dst.
func (b *bodyHasher) sum(dst []byte) []byte {
	if b.c == canonRelaxed {
		b.h.Write(b.out)
		b.out = b.out[:0]
		if b.spilled {
			if u, ok := b.h.(encoding.BinaryUnmarshaler); ok && b.snap != nil {
				u.UnmarshalBinary(b.snap)
			}
		}
		// RFC 6376 3.4.4: a non-empty body ends with CRLF; an empty
		// one stays empty.
		if b.written {
			b.h.Write(b.crlfBuf[:2])
		}
	} else {
		if b.heldCR {
			b.writeCRLFs(b.crlfs)
			b.h.Write(b.crlfBuf[:1])
		}
		// RFC 6376 3.4.3: the body ends with exactly one CRLF; an
		// empty body is CRLF.
		b.h.Write(b.crlfBuf[:2])
	}
	return b.h.Sum(dst)
}
