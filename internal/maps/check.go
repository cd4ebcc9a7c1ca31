package maps

import (
	"bytes"
	"fmt"
	"path/filepath"
)

// CheckFile parses data as the map named by path's base name (one of
// FileNames), as a reload would, without putting it in use.
func CheckFile(path string, data []byte) error {
	if len(data) > maxMapBytes {
		return fmt.Errorf("%s: larger than %d bytes", path, maxMapBytes)
	}
	return parseInto(&Maps{}, filepath.Base(path), path, bytes.NewReader(data))
}
