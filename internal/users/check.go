package users

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Check parses data as a users file named path, as a reload would,
// without putting it in use.
func Check(path string, data []byte) error {
	_, err := parse(path, data)
	return err
}

// Redact replaces each password hash in the text of a users file with a
// short fingerprint of it, for the change log's diff: a changed password
// shows as a changed line, without the hash.
func Redact(text string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		s := strings.TrimSpace(l)
		c := strings.LastIndexByte(s, ':')
		if s == "" || s[0] == '#' || c < 0 {
			continue
		}
		sum := sha256.Sum256([]byte(s[c+1:]))
		end := ""
		if strings.HasSuffix(l, "\n") {
			end = "\n"
		}
		lines[i] = s[:c+1] + "(hash " + hex.EncodeToString(sum[:4]) + ")" + end
	}
	return strings.Join(lines, "")
}
