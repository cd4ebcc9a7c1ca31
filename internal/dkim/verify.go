// Package dkim verifies DKIM signatures (RFC 6376, with Ed25519 from
// RFC 8463 and the algorithm rules of RFC 8301) and signs outgoing mail
// with keys kept under data_dir/dkim. Verification is postern's own
// (canon.go, taglist.go, signature.go, record.go, keycache.go): it runs
// on every received message, so it streams the body once for all
// signatures and keeps parsed keys. Signing is postern's own too (signdata.go, on the
// same canonicalization); the tests use github.com/emersion/go-msgauth/dkim as a
// second opinion on both.
package dkim

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	pdns "postern/internal/dns"
)

// DefaultMaxSignatures is how many signatures are checked per message
// when VerifyOptions.MaxSignatures is 0. RFC 6376 6.1: verifiers MAY
// limit the number of signatures they try, to bound the work a message
// can cause.
const DefaultMaxSignatures = 5

// minReaderSize is the smallest *bufio.Reader Verify takes as it is;
// smaller ones are read through a reader of its own.
const minReaderSize = 4096

// readerSize is the buffer of the readers a Verifier reads messages
// through when not given a *bufio.Reader: a header that fits in it is
// read in place.
const readerSize = 64 << 10

// VerifyOptions tune verification.
type VerifyOptions struct {
	MaxSignatures int              // signatures checked per message; 0 means DefaultMaxSignatures
	KeyCache      int              // parsed key records a Verifier keeps; 0 means DefaultKeyCache
	Now           func() time.Time // clock for x= (expiry); nil means time.Now
}

// Verifier checks DKIM signatures (RFC 6376 6). It keeps parsed key
// records and its buffers from one message to the next, so one Verifier
// serves a whole server; it is safe for concurrent use.
type Verifier struct {
	opt     VerifyOptions
	keys    *keyCache
	states  sync.Pool // *verifyState
	readers sync.Pool // *bufio.Reader
}

// NewVerifier returns a Verifier with the given options.
func NewVerifier(opt VerifyOptions) *Verifier {
	if opt.MaxSignatures <= 0 {
		opt.MaxSignatures = DefaultMaxSignatures
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Verifier{opt: opt, keys: newKeyCache(opt.KeyCache)}
}

// Verify checks the DKIM signatures of a message (header and body as on
// the wire, CRLF line ends). It returns one Result per signature checked,
// in header order; a message without signatures gives no results. The
// error is set only when the message cannot be read at all. It is
// NewVerifier(opt).Verify: a caller verifying many messages keeps a
// Verifier instead.
func Verify(ctx context.Context, resolver pdns.Resolver, log *slog.Logger, msg io.Reader, opt VerifyOptions) ([]Result, error) {
	return NewVerifier(opt).Verify(ctx, resolver, log, msg)
}

// verifyState is the working memory of one verification, reused.
type verifyState struct {
	norm   []byte
	fields []hfield
	sigs   []sigCheck
	tags   []tag
	data   []byte // canonicalized header fields of one signature
	used   []bool
	bodies [numCanons]bodyHasher
	hashes [numCanons]hash.Hash
	sum    [numCanons][32]byte
}

// Verify checks the DKIM signatures of msg; see the package-level Verify.
// A *bufio.Reader of at least 4 KiB is read as it is, and a header that
// fits in its buffer is read in place.
func (v *Verifier) Verify(ctx context.Context, resolver pdns.Resolver, log *slog.Logger, msg io.Reader) ([]Result, error) {
	br, own := v.reader(msg)
	if own != nil {
		defer v.putReader(own)
	}
	st, _ := v.states.Get().(*verifyState)
	if st == nil {
		st = new(verifyState)
	}
	defer v.states.Put(st)

	head, pending, err := st.splitHeader(br)
	if err != nil {
		return nil, err
	}
	max := v.opt.MaxSignatures
	total := st.parseSignatures(head, max, v.opt.Now())
	if total == 0 {
		return nil, nil
	}
	if total > max {
		// RFC 6376 6.1: a verifier may limit the signatures it checks.
		log.InfoContext(ctx, "dkim signatures over the limit", "signatures", total, "checked", max)
	}

	v.lookupKeys(ctx, resolver, st.sigs)
	need := st.checkHeaders(head)

	// The body, once, through each canonicalization a remaining
	// signature uses.
	if need[canonSimple] || need[canonRelaxed] {
		br.Discard(pending)
		if err := st.hashBody(br, need); err != nil {
			return nil, fmt.Errorf("dkim: reading body: %w", err)
		}
	}
	return st.results(ctx, log), nil
}

// reader returns msg as a *bufio.Reader big enough to read the header in
// place; own is the pooled reader to give back, nil when msg was used as
// it is.
func (v *Verifier) reader(msg io.Reader) (br, own *bufio.Reader) {
	if br, ok := msg.(*bufio.Reader); ok && br.Size() >= minReaderSize {
		return br, nil
	}
	r, _ := v.readers.Get().(*bufio.Reader)
	if r == nil {
		r = bufio.NewReaderSize(msg, readerSize)
	} else {
		r.Reset(msg)
	}
	return r, r
}

func (v *Verifier) putReader(r *bufio.Reader) {
	r.Reset(nil)
	v.readers.Put(r)
}

// splitHeader reads the header and splits it into fields: in place in
// br's buffer when it fits (valid until br is read again; pending is then
// its length, still to be discarded from br), else copied out.
func (st *verifyState) splitHeader(br *bufio.Reader) (head []byte, pending int, err error) {
	head, inPlace := peekHeader(br)
	if inPlace {
		pending = len(head)
	} else {
		h, err := readHeader(br)
		if err != nil {
			return nil, 0, fmt.Errorf("dkim: reading header: %w", err)
		}
		head = terminateHeader(h)
	}
	if n := normalizeLineEnds(st.norm, head); len(n) != len(head) {
		st.norm, head = n, n
	}
	st.fields = splitFields(head, st.fields[:0])
	return head, pending, nil
}

// parseSignatures reads the first max DKIM-Signature fields into st.sigs
// (parseSignature) and returns how many the header has.
func (st *verifyState) parseSignatures(head []byte, max int, now time.Time) int {
	total := 0
	st.sigs = st.sigs[:0]
	for i, f := range st.fields {
		if !sameName(f.name, []byte("DKIM-Signature")) {
			continue
		}
		total++
		if total > max {
			continue
		}
		st.sigs = growSigs(st.sigs)
		s := &st.sigs[len(st.sigs)-1]
		s.field = i
		raw := head[f.start:f.end]
		valueStart := len(raw)
		if c := indexColon(raw); c >= 0 {
			valueStart = c + 1
		}
		st.tags = parseSignature(s, raw, valueStart, st.tags, now)
	}
	return total
}

// checkHeaders applies the checks that need the key and verifies b= over
// the header of each signature still in the running; it returns the body
// canonicalizations the remaining signatures need.
func (st *verifyState) checkHeaders(head []byte) (need [numCanons]bool) {
	for i := range st.sigs {
		s := &st.sigs[i]
		if s.res.Err != nil {
			continue
		}
		if s.keyErr != nil {
			s.res.Err = s.keyErr
			continue
		}
		if e := s.checkWithKey(s.key); e != nil {
			s.res.Err = e
			continue
		}
		// RFC 6376 6.1.3: the header fields named in h=, then the
		// signature field itself, hashed and checked against b=.
		st.data = appendHeaderData(st, head, s)
		s.headHash = sha256.Sum256(st.data)
		if err := checkSignature(s.key, s.headHash[:], s.b); err != nil {
			s.res.Err = sigFail("signature did not verify: " + err.Error())
			continue
		}
		need[s.bodyCanon] = true
	}
	return need
}

// results finishes each signature with the body hash and the key's t=s,
// and returns the results in header order.
func (st *verifyState) results(ctx context.Context, log *slog.Logger) []Result {
	results := make([]Result, 0, len(st.sigs))
	for i := range st.sigs {
		s := &st.sigs[i]
		if s.res.Err == nil {
			// RFC 6376 6.1.3: the body hash must be bh=.
			if subtle.ConstantTimeCompare(st.sum[s.bodyCanon][:], s.bh) != 1 {
				s.res.Err = sigFail("body hash did not verify")
			} else if e := checkStrict(s.key, s.res.Domain, s.res.AUID); e != nil {
				s.res.Err = e
			}
		}
		r := s.res
		r.Result = Pass
		if e, ok := r.Err.(*verifyError); ok {
			r.Result, r.Reason = e.result, e.reason
		}
		if log.Enabled(ctx, slog.LevelDebug) {
			testing := s.key != nil && s.key.testing
			log.DebugContext(ctx, "dkim", "result", r.Result, "d", r.Domain, "s", r.Selector, "a", r.Algorithm, "testing", testing, "err", r.Err)
		}
		results = append(results, r)
	}
	return results
}

// growSigs extends sigs by one, reusing the decode buffers of an earlier
// message's entry.
func growSigs(sigs []sigCheck) []sigCheck {
	if len(sigs) < cap(sigs) {
		sigs = sigs[:len(sigs)+1]
		s := &sigs[len(sigs)-1]
		*s = sigCheck{bh: s.bh[:0], b: s.b[:0]}
		return sigs
	}
	return append(sigs, sigCheck{})
}

func indexColon(b []byte) int {
	for i, c := range b {
		if c == ':' {
			return i
		}
	}
	return -1
}

// lookupKeys fetches the key of every signature still in the running,
// each distinct name once, several names at the same time.
func (v *Verifier) lookupKeys(ctx context.Context, resolver pdns.Resolver, sigs []sigCheck) {
	owners := 0
	for i := range sigs {
		s := &sigs[i]
		s.keyFrom = -1
		if s.res.Err != nil {
			continue
		}
		for j := 0; j < i; j++ {
			if sigs[j].res.Err == nil && sigs[j].keyFrom < 0 && sigs[j].keyName == s.keyName {
				s.keyFrom = j
				break
			}
		}
		if s.keyFrom < 0 {
			owners++
		}
	}
	lookup := func(s *sigCheck) { s.key, s.keyErr = lookupKey(ctx, resolver, v.keys, s.keyName) }
	if owners > 1 {
		var wg sync.WaitGroup
		for i := range sigs {
			if s := &sigs[i]; s.res.Err == nil && s.keyFrom < 0 {
				wg.Go(func() { lookup(s) })
			}
		}
		wg.Wait()
	} else {
		for i := range sigs {
			if s := &sigs[i]; s.res.Err == nil && s.keyFrom < 0 {
				lookup(s)
			}
		}
	}
	for i := range sigs {
		if s := &sigs[i]; s.res.Err == nil && s.keyFrom >= 0 {
			s.key, s.keyErr = sigs[s.keyFrom].key, sigs[s.keyFrom].keyErr
		}
	}
}

// pickThreshold is the h= names × header fields above which fields are
// found through a map rather than by scanning.
const pickThreshold = 1 << 14

// appendHeaderData returns the data signature s signs (RFC 6376 3.7):
// the fields named in h=, each name taking the last instance not yet
// taken (RFC 6376 5.4.2: bottom up; a name with no instance left adds
// nothing, which is how oversigning works), canonicalized, then the
// DKIM-Signature field with b= empty and no final CRLF.
func appendHeaderData(st *verifyState, head []byte, s *sigCheck) []byte {
	dst := st.data[:0]
	fields := st.fields
	if cap(st.used) < len(fields) {
		st.used = make([]bool, len(fields))
	}
	used := st.used[:len(fields)]
	clear(used)
	names := 1 + countByte(s.headers, ':')
	var buf [64]byte
	if names*len(fields) > pickThreshold {
		// Many names and fields: the instances of each name, bottom up.
		byName := make(map[string][]int)
		for i := len(fields) - 1; i >= 0; i-- {
			k := strings.ToLower(string(fields[i].name))
			byName[k] = append(byName[k], i)
		}
		for rest := s.headers; rest != nil; {
			var name []byte
			name, rest = nextName(rest, buf[:0])
			k := strings.ToLower(string(name))
			if idx := byName[k]; len(idx) > 0 {
				f := fields[idx[0]]
				byName[k] = idx[1:]
				dst = appendCanonHeader(dst, head[f.start:f.end], s.hdrCanon)
			}
		}
	} else {
		for rest := s.headers; rest != nil; {
			var name []byte
			name, rest = nextName(rest, buf[:0])
			for i := len(fields) - 1; i >= 0; i-- {
				if used[i] || !sameName(fields[i].name, name) {
					continue
				}
				used[i] = true
				f := fields[i]
				dst = appendCanonHeader(dst, head[f.start:f.end], s.hdrCanon)
				break
			}
		}
	}
	f := fields[s.field]
	return appendSigField(dst, head[f.start:f.end], s.bStart, s.bEnd, s.hdrCanon)
}

func countByte(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

// checkSignature checks sig over the SHA-256 hash of the header data:
// RSASSA-PKCS1-v1_5 (RFC 6376 3.3.1), or Ed25519 over the hash (RFC 8463
// 3: the hash, not the data, is what is signed).
func checkSignature(k *pubKey, hashed, sig []byte) error {
	switch k.algo {
	case AlgoRSA:
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, hashed, sig)
	case AlgoEd25519:
		if !ed25519.Verify(k.ed, hashed, sig) {
			return fmt.Errorf("invalid Ed25519 signature")
		}
		return nil
	}
	return fmt.Errorf("unknown key algorithm %q", k.algo)
}

// hashBody reads the rest of br (the body) through the canonicalizations
// in need, and keeps each hash in st.sum.
func (st *verifyState) hashBody(br *bufio.Reader, need [numCanons]bool) error {
	for c := range numCanons {
		if need[c] {
			if st.hashes[c] == nil {
				st.hashes[c] = sha256.New()
			}
			st.bodies[c].reset(c, st.hashes[c])
		}
	}
	for {
		n := br.Buffered()
		if n == 0 {
			if _, err := br.Peek(1); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			n = br.Buffered()
		}
		p, _ := br.Peek(n)
		for c := range numCanons {
			if need[c] {
				st.bodies[c].write(p)
			}
		}
		br.Discard(n)
	}
	for c := range numCanons {
		if need[c] {
			st.bodies[c].sum(st.sum[c][:0])
		}
	}
	return nil
}
