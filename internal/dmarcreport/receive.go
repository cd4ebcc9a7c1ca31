package dmarcreport

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-message"
)

// ExtractReports finds the aggregate reports in data, which may be a bare
// report (XML, .xml.gz or .zip) or an RFC 5322 message carrying them as
// MIME parts (RFC 7489 7.2.1.1). It returns every report it could parse;
// the error describes what could not be read when nothing was found.
func ExtractReports(data []byte) ([]*Feedback, error) {
	if kind := sniff(data); kind != "" {
		return decodeAttachment(data, 0)
	}
	ent, err := message.Read(bytes.NewReader(data))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("neither a report nor a message: %w", err)
	}
	var out []*Feedback
	var errs []error
	err = ent.Walk(func(path []int, e *message.Entity, werr error) error {
		if werr != nil && !message.IsUnknownCharset(werr) {
			errs = append(errs, fmt.Errorf("part %v: %w", path, werr))
			return nil
		}
		if e.MultipartReader() != nil {
			return nil
		}
		body, rerr := io.ReadAll(io.LimitReader(e.Body, MaxReportBytes+1))
		if rerr != nil {
			errs = append(errs, fmt.Errorf("part %v: %w", path, rerr))
			return nil
		}
		if sniff(body) == "" {
			return nil // the human-readable part
		}
		fs, derr := decodeAttachment(body, 0)
		if derr != nil {
			errs = append(errs, fmt.Errorf("part %v: %w", path, derr))
		}
		out = append(out, fs...)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(out) == 0 {
		if len(errs) == 0 {
			return nil, errors.New("no aggregate report found in the message")
		}
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// sniff names the content of a report attachment: "gzip", "zip", "xml" or "".
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return "zip"
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	if bytes.HasPrefix(t, []byte("<")) {
		head := t
		if len(head) > 4096 {
			head = head[:4096]
		}
		if bytes.Contains(head, []byte("feedback")) {
			return "xml"
		}
	}
	return ""
}

func decodeAttachment(b []byte, depth int) ([]*Feedback, error) {
	if depth > 2 {
		return nil, errors.New("archive nested too deep")
	}
	switch sniff(b) {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		x, err := readLimited(zr)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return decodeAttachment(x, depth+1)
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, fmt.Errorf("zip: %w", err)
		}
		var out []*Feedback
		var errs []error
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				errs = append(errs, fmt.Errorf("zip member %q: %w", zf.Name, err))
				continue
			}
			x, err := readLimited(rc)
			rc.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("zip member %q: %w", zf.Name, err))
				continue
			}
			fs, err := decodeAttachment(x, depth+1)
			if err != nil {
				errs = append(errs, fmt.Errorf("zip member %q: %w", zf.Name, err))
			}
			out = append(out, fs...)
		}
		if len(out) == 0 {
			if len(errs) == 0 {
				return nil, errors.New("empty zip archive")
			}
			return nil, errors.Join(errs...)
		}
		return out, nil
	case "xml":
		f, err := ParseFeedback(b)
		if err != nil {
			return nil, err
		}
		return []*Feedback{f}, nil
	}
	return nil, errors.New("attachment is not XML, gzip or zip")
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxReportBytes {
		return nil, fmt.Errorf("expands beyond %d bytes", MaxReportBytes)
	}
	return b, nil
}

// ReceivedStore keeps parsed reports as JSON files in one directory
// (data_dir/dmarc/received), one file per report, named so that the same
// report received twice is stored once.
type ReceivedStore struct{ Dir string }

// Save stores f. It reports whether the report was already there.
func (s ReceivedStore) Save(f *Feedback) (path string, dup bool, err error) {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return "", false, err
	}
	h := sha256.Sum256([]byte(f.Metadata.OrgName + "\x00" + f.Metadata.ReportID + "\x00" + f.Policy.Domain))
	day := time.Unix(int64(f.Metadata.DateRange.Begin), 0).UTC().Format("20060102")
	name := fmt.Sprintf("%s-%s-%s.json", day, safeName(f.Policy.Domain), hex.EncodeToString(h[:8]))
	path = filepath.Join(s.Dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, true, nil
	}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return "", false, err
	}
	tmp, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return "", false, err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", false, err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", false, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", false, err
	}
	return path, false, nil
}

func safeName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || b.Len() > 100 {
		return "report"
	}
	return b.String()
}

// Load returns the stored reports whose period ends at or after since,
// oldest first. Files that do not decode are returned as errors beside
// the reports that do.
func (s ReceivedStore) Load(since time.Time) ([]*Feedback, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Feedback
	var errs []error
	for _, de := range entries {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".json") || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.Dir, de.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var f Feedback
		if err := json.Unmarshal(b, &f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", de.Name(), err))
			continue
		}
		if time.Unix(int64(f.Metadata.DateRange.End), 0).Before(since) {
			continue
		}
		out = append(out, &f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Metadata.DateRange.Begin < out[j].Metadata.DateRange.Begin
	})
	return out, errors.Join(errs...)
}

// Import reads the reports in data (a report message or file, see
// ExtractReports) and stores each. It is what mail to the report inbox
// goes through. It returns the reports found, including ones already
// stored.
func (s ReceivedStore) Import(data []byte) ([]*Feedback, error) {
	fs, err := ExtractReports(data)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, f := range fs {
		if _, _, err := s.Save(f); err != nil {
			errs = append(errs, err)
		}
	}
	return fs, errors.Join(errs...)
}
