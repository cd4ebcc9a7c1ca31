package arc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"strings"

	"postern/internal/dkim"
	pdns "postern/internal/dns"
)

// Hop is one ARC set of a chain that validated: who sealed it and what
// its sealer's authentication found (its AAR).
type Hop struct {
	Instance   int
	Sealer     string // the ARC-Seal's d=
	Signer     string // the ARC-Message-Signature's d=
	AuthServID string
	Results    []string
}

// Result is the outcome of validating a message's chain (RFC 8617 5.2).
type Result struct {
	CV string // None, Pass or Fail
	// Instance is the highest instance found (N), 0 when there is none.
	Instance int
	// OldestPass is RFC 8617 5.2 step 5: the lowest instance from which
	// on every AMS verifies, 0 when all do. Set when CV is Pass.
	OldestPass int
	// Reason says why the chain failed, in a few words.
	Reason string
	// Temporary is set when it failed because a key could not be looked
	// up for now; RFC 8617 5.2.1 makes that a fail all the same, but the
	// log says so.
	Temporary bool
	// Hops are the sets from 1 to N when CV is Pass.
	Hops []Hop
	// NewestCV is the cv= of the highest ARC-Seal ("" when there is
	// none): RFC 8617 5.1 step 2, a sealer stops when it is "fail".
	NewestCV string
}

// Verifier validates ARC chains. Keys and signatures are checked
// through DKIM's verifier, whose key cache it shares.
type Verifier struct {
	DKIM     *dkim.Verifier // nil: a new one for each check, keeping no keys
	Resolver pdns.Resolver
}

// set is the fields of one instance, as found in the header.
type set struct {
	seal    *AS
	sig     *AMS
	aar     *AAR
	fields  [3]int // indexes into the header fields: AAR, AMS, AS
	counts  [3]int
	sealRaw []byte
}

// chain is a message's header and the ARC sets in it.
type chain struct {
	head   []byte
	fields []dkim.HeaderField
	sets   []set // by instance; sets[0] unused
	max    int
}

func fail(reason string) Result { return Result{CV: Fail, Reason: reason} }

// Verify validates the chain of the message read from msg (RFC 8617
// 5.2). The error is set only when the message cannot be read.
func (v *Verifier) Verify(ctx context.Context, msg io.Reader) (Result, error) {
	br := bufio.NewReaderSize(msg, 64<<10)
	raw, err := dkim.ReadHeader(br)
	if err != nil {
		return Result{}, fmt.Errorf("arc: reading header: %w", err)
	}
	c, res := collect(raw)
	if res.CV != "" {
		return res, nil
	}
	res = c.structure()
	if res.CV != "" {
		return res, nil
	}
	simple, relaxed := c.canons()
	bs, br2, err := dkim.BodyHashes(br, simple, relaxed)
	if err != nil {
		return Result{}, fmt.Errorf("arc: reading body: %w", err)
	}
	return v.validate(ctx, c, bs, br2), nil
}

// collect finds and parses the ARC fields (RFC 8617 5.2 step 1). A
// Result with CV set ends validation: none without fields, fail for a
// field that does not parse.
func collect(raw []byte) (*chain, Result) {
	c := &chain{}
	c.head, c.fields = dkim.SplitHeader(raw)
	c.sets = make([]set, MaxInstance+1)
	found := false
	for i, f := range c.fields {
		kind := fieldKind(f.Name)
		if kind < 0 {
			continue
		}
		found = true
		fv := c.value(i)
		n, err := parseInto(&c.sets, kind, fv)
		if err != nil {
			return nil, fail(strings.TrimPrefix(err.Error(), "arc: "))
		}
		s := &c.sets[n]
		s.counts[kind]++
		s.fields[kind] = i
		c.max = max(c.max, n)
	}
	if !found {
		return nil, Result{CV: None}
	}
	return c, Result{}
}

// value returns the value of field i: after its colon.
func (c *chain) value(i int) []byte {
	f := c.head[c.fields[i].Start:c.fields[i].End]
	return f[bytes.IndexByte(f, ':')+1:]
}

// The kinds of ARC field, as indexes of set.fields.
const (
	kindAAR = iota
	kindAMS
	kindAS
)

func fieldKind(name []byte) int {
	switch {
	case bytes.EqualFold(name, []byte(AARField)):
		return kindAAR
	case bytes.EqualFold(name, []byte(SignatureField)):
		return kindAMS
	case bytes.EqualFold(name, []byte(SealField)):
		return kindAS
	}
	return -1
}

// parseInto parses one ARC field into its set and returns its instance.
func parseInto(sets *[]set, kind int, v []byte) (int, error) {
	switch kind {
	case kindAAR:
		a, err := ParseAAR(v)
		if err != nil {
			return 0, err
		}
		(*sets)[a.Instance].aar = a
		return a.Instance, nil
	case kindAMS:
		s, err := ParseAMS(v)
		if err != nil {
			return 0, err
		}
		(*sets)[s.Instance].sig = s
		return s.Instance, nil
	}
	s, err := ParseAS(v)
	if err != nil {
		return 0, err
	}
	(*sets)[s.Instance].seal = s
	return s.Instance, nil
}

// structure applies RFC 8617 5.2 steps 2 and 3.
func (c *chain) structure() Result {
	res := Result{Instance: c.max}
	if s := c.sets[c.max].seal; s != nil {
		res.NewestCV = s.CV
		// Step 2: the newest seal says the chain failed.
		if s.CV == Fail {
			res.CV, res.Reason = Fail, fmt.Sprintf("ARC-Seal i=%d has cv=fail", c.max)
			return res
		}
	}
	for i := 1; i <= c.max; i++ {
		s := c.sets[i]
		// Step 3.1 and 3.2: one of each field per instance, 1 to N.
		if s.counts != [3]int{1, 1, 1} {
			res.CV, res.Reason = Fail, fmt.Sprintf("ARC set i=%d is not one AAR, one AMS and one AS", i)
			return res
		}
		// Step 3.3: cv=none at i=1, pass above.
		want := Pass
		if i == 1 {
			want = None
		}
		if s.seal.CV != want {
			res.CV, res.Reason = Fail, fmt.Sprintf("ARC-Seal i=%d has cv=%s", i, s.seal.CV)
			return res
		}
	}
	return res
}

// canons reports which body canonicalizations the signatures use.
func (c *chain) canons() (simple, relaxed bool) {
	for i := 1; i <= c.max; i++ {
		if c.sets[i].sig.BodyRelaxed {
			relaxed = true
		} else {
			simple = true
		}
	}
	return simple, relaxed
}

// validate applies RFC 8617 5.2 steps 4 to 7.
func (v *Verifier) validate(ctx context.Context, c *chain, bodySimple, bodyRelaxed []byte) Result {
	res := Result{Instance: c.max, NewestCV: c.sets[c.max].seal.CV}
	body := func(s *AMS) []byte {
		if s.BodyRelaxed {
			return bodyRelaxed
		}
		return bodySimple
	}
	// Step 4: the newest AMS.
	if why, temp := v.checkAMS(ctx, c, c.max, body(c.sets[c.max].sig)); why != "" {
		res.CV, res.Reason, res.Temporary = Fail, fmt.Sprintf("ARC-Message-Signature i=%d: %s", c.max, why), temp
		return res
	}
	// Step 5: the oldest AMS from which on all verify.
	for i := c.max - 1; i >= 1; i-- {
		if why, _ := v.checkAMS(ctx, c, i, body(c.sets[i].sig)); why != "" {
			res.OldestPass = i + 1
			break
		}
	}
	// Step 6: every seal, newest first.
	for i := c.max; i >= 1; i-- {
		if why, temp := v.checkSeal(ctx, c, i); why != "" {
			res.CV, res.Reason, res.Temporary = Fail, fmt.Sprintf("ARC-Seal i=%d: %s", i, why), temp
			res.OldestPass = 0
			return res
		}
	}
	// Step 7.
	res.CV = Pass
	for i := 1; i <= c.max; i++ {
		s := c.sets[i]
		res.Hops = append(res.Hops, Hop{Instance: i, Sealer: s.seal.Domain, Signer: s.sig.Domain,
			AuthServID: s.aar.AuthServID, Results: s.aar.Results})
	}
	return res
}

// checkAMS verifies the AMS of instance i against the body hash bh; it
// returns why it failed ("" when it verified) and whether for now only.
func (v *Verifier) checkAMS(ctx context.Context, c *chain, i int, bh []byte) (string, bool) {
	s := c.sets[i].sig
	if subtle.ConstantTimeCompare(bh, s.BodyHash) != 1 {
		return "body hash did not verify", false
	}
	data := dkim.AppendSignedFields(nil, c.head, c.fields, s.Headers, s.HeaderRelaxed)
	data = c.appendSelf(data, c.sets[i].fields[kindAMS], s.BStart, s.BEnd, s.HeaderRelaxed)
	return v.check(ctx, s.Domain, s.Selector, s.Algorithm, data, s.Sig)
}

// checkSeal verifies the AS of instance i (RFC 8617 5.1.1): the sets 1
// to i, each AAR, AMS, AS, relaxed, the AS of i with b= empty.
func (v *Verifier) checkSeal(ctx context.Context, c *chain, i int) (string, bool) {
	var data []byte
	for j := 1; j <= i; j++ {
		f := c.sets[j].fields
		for k, idx := range f {
			if j == i && k == kindAS {
				s := c.sets[i].seal
				data = c.appendSelf(data, idx, s.BStart, s.BEnd, true)
				continue
			}
			data = dkim.AppendCanonHeader(data, c.head[c.fields[idx].Start:c.fields[idx].End], true)
		}
	}
	s := c.sets[i].seal
	return v.check(ctx, s.Domain, s.Selector, s.Algorithm, data, s.Sig)
}

// appendSelf appends field idx as its own signature hashes it; bStart
// and bEnd are relative to the field's value.
func (c *chain) appendSelf(dst []byte, idx, bStart, bEnd int, relaxed bool) []byte {
	f := c.head[c.fields[idx].Start:c.fields[idx].End]
	off := bytes.IndexByte(f, ':') + 1
	return dkim.AppendSigField(dst, f, off+bStart, off+bEnd, relaxed)
}

// check verifies sig over the SHA-256 hash of data with the key of
// selector and domain.
func (v *Verifier) check(ctx context.Context, domain, selector, algo string, data, sig []byte) (string, bool) {
	keyAlgo, _, _ := strings.Cut(algo, "-")
	h := sha256.Sum256(data)
	dv := v.DKIM
	if dv == nil {
		dv = dkim.NewVerifier(dkim.VerifyOptions{})
	}
	r, err := dv.CheckHash(ctx, v.Resolver, domain, selector, keyAlgo, h[:], sig)
	if r == dkim.Pass {
		return "", false
	}
	return strings.TrimPrefix(err.Error(), "dkim: "), r == dkim.TempError
}
