// Package dmarcreport keeps the record of DMARC evaluations, turns it into
// the aggregate reports of RFC 7489 section 7.2 for the domains that ask
// for them, and reads the aggregate reports other receivers send about
// our own domains.
package dmarcreport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"postern/internal/dmarc"
)

// Evaluation is one DMARC evaluation as recorded for aggregate reports:
// one JSON line in the store.
type Evaluation struct {
	Time         time.Time  `json:"t"`
	SourceIP     string     `json:"ip"`
	HeaderFrom   string     `json:"from"`
	EnvelopeFrom string     `json:"mfrom,omitempty"`
	EnvelopeTo   string     `json:"rcpt,omitempty"`
	SPF          SPFAuth    `json:"spf"`
	DKIM         []DKIMAuth `json:"dkim,omitempty"`
	Result       string     `json:"result"` // pass, fail, none, temperror, permerror
	SPFAligned   bool       `json:"spf_aligned,omitempty"`
	DKIMAligned  bool       `json:"dkim_aligned,omitempty"`
	Disposition  string     `json:"disposition"`
	Reasons      []Reason   `json:"reasons,omitempty"`
	Policy       *Published `json:"policy,omitempty"` // nil when no record was found
}

// SPFAuth is the raw SPF result of a message.
type SPFAuth struct {
	Domain string `json:"domain"`
	Scope  string `json:"scope,omitempty"` // mfrom or helo
	Result string `json:"result"`
}

// DKIMAuth is the raw result of one DKIM signature.
type DKIMAuth struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector,omitempty"`
	Result   string `json:"result"`
}

// Reason is a policy override reason (RFC 7489 Appendix C).
type Reason struct {
	Type    string `json:"type"`
	Comment string `json:"comment,omitempty"`
}

// Published is the policy record in force, as reported in policy_published.
type Published struct {
	Domain string   `json:"domain"`
	ADKIM  string   `json:"adkim"`
	ASPF   string   `json:"aspf"`
	P      string   `json:"p"`
	SP     string   `json:"sp"`
	Pct    int      `json:"pct"`
	FO     string   `json:"fo"`
	RUA    []string `json:"rua,omitempty"` // dmarc-uri as published, with "!size"
}

// NewEvaluation builds the record of one evaluation.
func NewEvaluation(at time.Time, in dmarc.Input, res dmarc.Result) Evaluation {
	e := Evaluation{
		Time:         at.UTC(),
		HeaderFrom:   res.FromDomain,
		EnvelopeFrom: strings.ToLower(in.EnvelopeFrom),
		EnvelopeTo:   strings.ToLower(in.EnvelopeTo),
		SPF:          SPFAuth{Domain: strings.ToLower(in.SPFDomain), Scope: in.SPFScope, Result: strings.ToLower(in.SPFResult)},
		Result:       string(res.Value),
		SPFAligned:   res.SPFAligned,
		DKIMAligned:  res.DKIMAligned,
		Disposition:  string(res.Disposition),
	}
	if in.SourceIP.IsValid() {
		e.SourceIP = in.SourceIP.Unmap().String()
	}
	if e.SPF.Scope == "" {
		e.SPF.Scope = "mfrom"
	}
	for _, d := range in.DKIM {
		e.DKIM = append(e.DKIM, DKIMAuth{Domain: strings.ToLower(d.Domain), Selector: d.Selector, Result: strings.ToLower(d.Result)})
	}
	for _, r := range res.Reasons {
		e.Reasons = append(e.Reasons, Reason{Type: r.Type, Comment: r.Comment})
	}
	if r := res.Record; r != nil {
		p := &Published{Domain: res.PolicyDomain, ADKIM: string(r.DKIMAlignment), ASPF: string(r.SPFAlignment),
			P: string(r.Policy), SP: string(r.SubdomainPolicy), Pct: r.Percent, FO: r.FailureOptions}
		if p.SP == "" {
			p.SP = p.P
		}
		for _, u := range r.RUA {
			s := u.URI
			if u.MaxSize > 0 {
				s += fmt.Sprintf("!%d", u.MaxSize)
			}
			p.RUA = append(p.RUA, s)
		}
		e.Policy = p
	}
	return e
}

// DecodeLine decodes one line of the store, checking that it holds what
// a report needs.
func DecodeLine(line []byte) (Evaluation, error) {
	var e Evaluation
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return e, errors.New("empty line")
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return Evaluation{}, fmt.Errorf("bad evaluation line: %w", err)
	}
	if e.Time.IsZero() {
		return Evaluation{}, errors.New("evaluation without time")
	}
	if e.HeaderFrom == "" {
		return Evaluation{}, errors.New("evaluation without header_from")
	}
	if e.SourceIP != "" {
		if _, err := netip.ParseAddr(e.SourceIP); err != nil {
			return Evaluation{}, fmt.Errorf("evaluation source IP: %w", err)
		}
	}
	if e.Policy != nil && e.Policy.Domain == "" {
		return Evaluation{}, errors.New("evaluation policy without domain")
	}
	return e, nil
}

// Backend stores evaluations for reporting, and the record of which
// reports were sent. The file backend keeps both on this node: each node
// reports the mail it received.
type Backend interface {
	// Append records one evaluation.
	Append(ctx context.Context, e Evaluation) error
	// Scan calls fn for every evaluation with begin <= Time < end.
	Scan(ctx context.Context, begin, end time.Time, fn func(Evaluation) error) error
	// Claim records key (one report message queued, one report period
	// done) and reports whether this caller is the first to record it.
	Claim(ctx context.Context, key string) (bool, error)
	// Claimed reports whether key has been recorded.
	Claimed(ctx context.Context, key string) (bool, error)
}

// FileBackend keeps evaluations in dir as one JSON-lines file per UTC day
// (2006-01-02.jsonl), appended to; claims (what was sent) are empty
// files under dir/sent/.
type FileBackend struct {
	dir string
	log *slog.Logger

	mu   sync.Mutex
	day  string
	file *os.File
}

// NewFileBackend opens (creating) the store in dir.
func NewFileBackend(dir string, log *slog.Logger) (*FileBackend, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sent"), 0o750); err != nil {
		return nil, err
	}
	return &FileBackend{dir: dir, log: log}, nil
}

const dayFormat = "2006-01-02"

// Append writes the evaluation as one line with a single write.
func (b *FileBackend) Append(ctx context.Context, e Evaluation) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	day := e.Time.UTC().Format(dayFormat)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.file == nil || b.day != day {
		if b.file != nil {
			b.file.Close()
			b.file = nil
		}
		f, err := openAppend(filepath.Join(b.dir, day+".jsonl"))
		if err != nil {
			return err
		}
		b.file, b.day = f, day
	}
	_, err = b.file.Write(line)
	return err
}

// openAppend opens a day file for appending. A last line torn by a crash
// is closed with a newline first, so that it cannot swallow the next one.
func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err != nil {
			f.Close()
			return nil, err
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	return f, nil
}

// Close syncs and closes the open day file.
func (b *FileBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.file == nil {
		return nil
	}
	err := b.file.Sync()
	if cerr := b.file.Close(); err == nil {
		err = cerr
	}
	b.file = nil
	return err
}

// Scan reads the day files covering [begin, end). Lines that do not
// decode (a line torn by a crash, say) are skipped and logged.
func (b *FileBackend) Scan(ctx context.Context, begin, end time.Time, fn func(Evaluation) error) error {
	b.mu.Lock()
	if b.file != nil {
		b.file.Sync()
	}
	b.mu.Unlock()
	for d := begin.UTC().Truncate(24 * time.Hour); d.Before(end); d = d.Add(24 * time.Hour) {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := filepath.Join(b.dir, d.Format(dayFormat)+".jsonl")
		if err := b.scanFile(path, begin, end, fn); err != nil {
			return err
		}
	}
	return nil
}

func (b *FileBackend) scanFile(path string, begin, end time.Time, fn func(Evaluation) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				b.log.Warn("dmarc store: torn last line skipped", "file", path, "line", n)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := DecodeLine(line)
		if err != nil {
			b.log.Warn("dmarc store: line skipped", "file", path, "line", n, "err", err)
			continue
		}
		if e.Time.Before(begin) || !e.Time.Before(end) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// Claim creates dir/sent/<key> exclusively.
func (b *FileBackend) Claim(ctx context.Context, key string) (bool, error) {
	if err := checkClaimKey(key); err != nil {
		return false, err
	}
	f, err := os.OpenFile(filepath.Join(b.dir, "sent", key), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fmt.Fprintln(f, time.Now().UTC().Format(time.RFC3339))
	return true, f.Close()
}

// Claimed reports whether dir/sent/<key> exists.
func (b *FileBackend) Claimed(ctx context.Context, key string) (bool, error) {
	if err := checkClaimKey(key); err != nil {
		return false, err
	}
	_, err := os.Lstat(filepath.Join(b.dir, "sent", key))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func checkClaimKey(key string) error {
	if key == "" || strings.ContainsAny(key, "/\\\x00") || key[0] == '.' {
		return fmt.Errorf("bad claim key %q", key)
	}
	return nil
}

// Prune removes day files wholly older than before, and the claims of
// report periods that ended before it.
func (b *FileBackend) Prune(before time.Time) error {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, de := range entries {
		name := de.Name()
		day, ok := strings.CutSuffix(name, ".jsonl")
		if !ok {
			continue
		}
		t, err := time.Parse(dayFormat, day)
		if err != nil || !t.Add(24*time.Hour).Before(before) {
			continue
		}
		if err := os.Remove(filepath.Join(b.dir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	sent, err := os.ReadDir(filepath.Join(b.dir, "sent"))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, de := range sent {
		if _, end, ok := claimPeriod(de.Name()); ok && end.Before(before) {
			if err := os.Remove(filepath.Join(b.dir, "sent", de.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
