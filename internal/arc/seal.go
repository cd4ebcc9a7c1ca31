package arc

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"postern/internal/dkim"
)

// DefaultHeaders are the fields an ARC-Message-Signature signs when
// present: the content fields DKIM signs and, RFC 8617 4.1.2, the
// DKIM-Signature fields. Authentication-Results and the ARC fields are
// never signed (RFC 8617 4.1.2).
var DefaultHeaders = []string{
	"From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "DKIM-Signature",
}

// SealOptions say who seals and with what.
type SealOptions struct {
	Domain, Selector string        // d= and s= of both signatures
	Key              crypto.Signer // an RSA key (RFC 8617: rsa-sha256)
	// AuthServID is our authserv-id: the Authentication-Results fields
	// with it become the ARC-Authentication-Results.
	AuthServID string
	// Headers are the AMS h= names; nil means DefaultHeaders present in
	// the message.
	Headers []string
	// Time is t=; zero means now.
	Time time.Time
	// CV is the chain status found when the message was received: None,
	// Pass or Fail. A chain present with anything but Pass is sealed
	// with cv=fail (RFC 8617 5.1.2). "" means the arc= result of our
	// Authentication-Results (StatusOf).
	CV string
}

// ErrNotSealed is Seal's error when no ARC set may be added: the
// newest seal has cv=fail (RFC 8617 5.1 step 2) or the chain is at
// MaxInstance already.
var ErrNotSealed = errors.New("arc: not sealed")

// Seal returns the ARC set to put on top of the message read from msg,
// as CRLF-terminated fields in the order they go (ARC-Seal first). The
// message is read once; only the header is kept.
func Seal(msg io.Reader, opt SealOptions) (string, error) {
	br := bufio.NewReaderSize(msg, 64<<10)
	raw, err := dkim.ReadHeader(br)
	if err != nil {
		return "", fmt.Errorf("arc seal: reading header: %w", err)
	}
	head, fields := dkim.SplitHeader(raw)
	n, newestCV, prior := existing(head, fields)
	if newestCV == Fail {
		return "", fmt.Errorf("%w: the newest ARC-Seal has cv=fail", ErrNotSealed)
	}
	if n >= MaxInstance {
		return "", fmt.Errorf("%w: the chain has %d sets already", ErrNotSealed, n)
	}
	i := n + 1
	found := opt.CV
	if found == "" {
		found = ourStatus(head, fields, opt.AuthServID)
	}
	cv := None
	if n > 0 {
		cv = Pass
		if found != Pass || len(prior) != 3*n {
			cv, prior = Fail, nil
		}
	}
	_, bh, err := dkim.BodyHashes(br, false, true)
	if err != nil {
		return "", fmt.Errorf("arc seal: reading body: %w", err)
	}
	now := opt.Time
	if now.IsZero() {
		now = time.Now()
	}
	t := strconv.FormatInt(now.Unix(), 10)
	aar := "ARC-Authentication-Results: " + aarValue(i, opt.AuthServID, head, fields) + "\r\n"

	hnames := strings.Join(opt.Headers, ":")
	if opt.Headers == nil {
		hnames = presentHeaders(fields)
	}
	ams := []string{"a=rsa-sha256", "b=", "bh=" + base64.StdEncoding.EncodeToString(bh), "c=relaxed/relaxed",
		"d=" + opt.Domain, "h=" + hnames, "i=" + strconv.Itoa(i), "s=" + opt.Selector, "t=" + t}
	data := dkim.AppendSignedFields(nil, head, fields, []byte(hnames), true)
	amsField, err := signField(SignatureField, ams, data, opt.Key)
	if err != nil {
		return "", err
	}
	as := []string{"a=rsa-sha256", "b=", "cv=" + cv, "d=" + opt.Domain, "i=" + strconv.Itoa(i), "s=" + opt.Selector, "t=" + t}
	// RFC 8617 5.1.1: the sets 1 to i, each AAR, AMS, AS; with cv=fail
	// only our own (5.1.2).
	var sdata []byte
	for _, f := range prior {
		sdata = dkim.AppendCanonHeader(sdata, f, true)
	}
	sdata = dkim.AppendCanonHeader(sdata, []byte(aar), true)
	sdata = dkim.AppendCanonHeader(sdata, []byte(amsField), true)
	asField, err := signField(SealField, as, sdata, opt.Key)
	if err != nil {
		return "", err
	}
	return asField + amsField + aar, nil
}

// signField builds the field name: tags (sorted, b= empty among them),
// signs data followed by the field itself as hashed (RFC 6376 3.7), and
// returns the field with b= filled in, folded between tags.
func signField(name string, tags []string, data []byte, key crypto.Signer) (string, error) {
	sort.Strings(tags)
	field := name + ": " + strings.Join(tags, "; ")
	bAt := strings.Index(field, " b=") + 3
	data = dkim.AppendSigField(data, []byte(field), bAt, bAt, true)
	h := sha256.Sum256(data)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("arc seal: %w", err)
	}
	field = field[:bAt] + base64.StdEncoding.EncodeToString(sig) + field[bAt:]
	// Folding where a space already is leaves the relaxed form, which is
	// what was signed, unchanged.
	// A space, not a tab, starts the continuation lines: dkimpy finds
	// the AMS of an instance by " i=N;".
	return strings.ReplaceAll(field, "; ", ";\r\n ") + "\r\n", nil
}

// existing finds the ARC sets already on the message: the highest
// instance, the cv= of its seal, and the fields of sets 1 to n in the
// order an ARC-Seal signs them (nil when they are not complete sets).
func existing(head []byte, fields []dkim.HeaderField) (n int, newestCV string, prior [][]byte) {
	sets := make([]set, MaxInstance+1)
	raws := make([][3][]byte, MaxInstance+1)
	count := 0
	for _, f := range fields {
		kind := fieldKind(f.Name)
		if kind < 0 {
			continue
		}
		count++
		raw := head[f.Start:f.End]
		inst, err := parseInto(&sets, kind, raw[bytes.IndexByte(raw, ':')+1:])
		if err != nil {
			continue
		}
		raws[inst][kind] = raw
		n = max(n, inst)
	}
	if s := sets[n].seal; s != nil {
		newestCV = s.CV
	}
	if count != 3*n {
		return n, newestCV, nil
	}
	for i := 1; i <= n; i++ {
		s := raws[i]
		if s[0] == nil || s[1] == nil || s[2] == nil {
			return n, newestCV, nil
		}
		prior = append(prior, s[0], s[1], s[2])
	}
	return n, newestCV, prior
}

// aarValue is the ARC-Authentication-Results value of instance i: the
// results of every Authentication-Results field with our authserv-id,
// in order, one per line (RFC 8617 4.1.1); "none" when there is none.
func aarValue(i int, id string, head []byte, fields []dkim.HeaderField) string {
	var results []string
	for _, f := range fields {
		if !bytes.EqualFold(f.Name, []byte("Authentication-Results")) {
			continue
		}
		raw := head[f.Start:f.End]
		parts := splitResults(string(raw[bytes.IndexByte(raw, ':')+1:]))
		if len(parts) == 0 {
			continue
		}
		sid, _, _ := strings.Cut(parts[0], " ")
		if strings.EqualFold(sid, id) {
			results = append(results, parts[1:]...)
		}
	}
	if len(results) == 0 {
		// RFC 8601 2.2: no-result.
		results = []string{"none"}
	}
	return "i=" + strconv.Itoa(i) + "; " + id + ";\r\n\t" + strings.Join(results, ";\r\n\t")
}

// ourStatus is the arc= result in the first Authentication-Results
// with our authserv-id, "" when there is none.
func ourStatus(head []byte, fields []dkim.HeaderField, id string) string {
	for _, f := range fields {
		if !bytes.EqualFold(f.Name, []byte("Authentication-Results")) {
			continue
		}
		raw := head[f.Start:f.End]
		v := string(raw[bytes.IndexByte(raw, ':')+1:])
		if parts := splitResults(v); len(parts) > 0 && strings.EqualFold(strings.Fields(parts[0])[0], id) {
			return StatusOf(v)
		}
	}
	return ""
}

// presentHeaders is h= for DefaultHeaders: those the message has, each
// once per instance, in lower case.
func presentHeaders(fields []dkim.HeaderField) string {
	var names []string
	for _, h := range DefaultHeaders {
		for _, f := range fields {
			if bytes.EqualFold(f.Name, []byte(h)) {
				names = append(names, strings.ToLower(h))
			}
		}
	}
	return strings.Join(names, ":")
}
