package sendmailcf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SystemAliases is the aliases file of an import from dir when none is
// named: dir/aliases (Import's default), except that sendmail's own
// directory without one means the system's /etc/aliases.
func SystemAliases(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "aliases")); err != nil && dir == DefaultDir {
		return "/etc/aliases"
	}
	return ""
}

// OutputFiles are the files an import writes, by path: outDir/postern.toml,
// outDir/IMPORT-NOTES.txt (for the setup in dir) and the maps in mapsDir.
func (im *Imported) OutputFiles(dir, outDir, mapsDir string) map[string]string {
	files := map[string]string{
		filepath.Join(outDir, "postern.toml"):     im.Config,
		filepath.Join(outDir, "IMPORT-NOTES.txt"): im.NotesText(dir),
	}
	for name, content := range im.Maps {
		files[filepath.Join(mapsDir, name)] = content
	}
	return files
}

// WriteOutput writes the files (mode 0644, directories 0755: the config
// and maps must not be writable by group or others, or postern refuses
// to start) and returns their paths, sorted. Without force, nothing is
// written when one of them exists.
func WriteOutput(files map[string]string, force bool) ([]string, error) {
	if !force {
		for p := range files {
			if _, err := os.Stat(p); err == nil {
				return nil, fmt.Errorf("%s exists; use -force to overwrite", p)
			}
		}
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(files[p]), 0o644); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// NotesText is IMPORT-NOTES.txt: what changed meaning and what was not
// carried over, for the setup in dir.
func (im *Imported) NotesText(dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Import of the sendmail setup in %s\n\n", dir)
	fmt.Fprintf(&b, "Carried over with a change of meaning (%d):\n", len(im.Changed))
	for _, n := range im.Changed {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	fmt.Fprintf(&b, "\nNot carried over, needs your decision (%d):\n", len(im.NotCarried))
	for _, n := range im.NotCarried {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	return b.String()
}

// WriteJSON writes the import's result: the config written, every file
// written, and the notes.
func (im *Imported) WriteJSON(w io.Writer, configFile string, files []string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Config     string   `json:"config"`
		Files      []string `json:"files"`
		Changed    []Note   `json:"changed"`
		NotCarried []Note   `json:"not_carried"`
	}{configFile, files, nonNilNotes(im.Changed), nonNilNotes(im.NotCarried)})
}

func nonNilNotes(n []Note) []Note {
	if n == nil {
		return []Note{}
	}
	return n
}
