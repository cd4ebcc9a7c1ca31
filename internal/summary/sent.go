package summary

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/atomicfile"
)

// SentFile, in the summary's directory, records the end of the last
// period whose summary was sent: the line "postern-summary 1", then
// "sent-through " and the time (RFC 3339, UTC).
const SentFile = "summary-sent"

const sentMagic = "postern-summary 1\n"

// parseSent is the one parser of the record: exactly the two lines.
func parseSent(b []byte) (time.Time, error) {
	s, ok := strings.CutPrefix(string(b), sentMagic)
	if !ok {
		return time.Time{}, errors.New("not a summary record (bad first line)")
	}
	v, ok := strings.CutPrefix(s, "sent-through ")
	if !ok || !strings.HasSuffix(v, "\n") || strings.Count(v, "\n") != 1 {
		return time.Time{}, errors.New("want one line \"sent-through TIME\"")
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSuffix(v, "\n"))
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func formatSent(t time.Time) []byte {
	return []byte(sentMagic + "sent-through " + t.UTC().Format(time.RFC3339) + "\n")
}

// readSent reads the record in dir; zero when there is none yet.
func readSent(dir string) (time.Time, error) {
	path := filepath.Join(dir, SentFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("summary record %s: %w (run postern set-permissions)", path, err)
	}
	t, err := parseSent(b)
	if err != nil {
		return time.Time{}, fmt.Errorf("summary record %s: %w (remove it: the next summary is then the one of the period after the start)", path, err)
	}
	return t, nil
}

// writeSent replaces the record atomically.
func writeSent(dir string, t time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, SentFile), formatSent(t), 0o600)
}

// CheckRecord reads the record in dir as the server does (postern
// check): an error names the file and the fix.
func CheckRecord(dir string) error {
	_, err := readSent(dir)
	return err
}
