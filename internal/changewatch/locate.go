package changewatch

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Located is what a command needs of a config file that may not load:
// where its data dir (and so the change log) is, and the admin listener.
type Located struct {
	DataDir string `toml:"data_dir"`
	Admin   struct {
		Address string `toml:"address"`
	} `toml:"admin"`
}

// maxSalvage bounds the lines Locate blanks out.
const maxSalvage = 50

// Locate finds data_dir and [admin] address in the text of a config
// file that failed to load: it blanks out each line the TOML parser
// stops at and tries again. An unset data_dir is the default one; a
// relative one is taken from the file's directory, as the loader does.
func Locate(path, text string) Located {
	var l Located
	lines := strings.Split(text, "\n")
	for range maxSalvage {
		l = Located{}
		_, err := toml.Decode(strings.Join(lines, "\n"), &l)
		var pe toml.ParseError
		if err == nil || !errors.As(err, &pe) || pe.Position.Line < 1 || pe.Position.Line > len(lines) {
			break
		}
		lines[pe.Position.Line-1] = ""
	}
	if l.DataDir == "" {
		l.DataDir = "/var/lib/postern"
	} else if !filepath.IsAbs(l.DataDir) {
		l.DataDir = filepath.Join(filepath.Dir(path), l.DataDir)
	}
	return l
}
