package sendmailcf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ImportOptions say where the sendmail setup is and what the postern
// config should point at.
type ImportOptions struct {
	Dir         string // sendmail's directory, usually /etc/mail
	AliasesFile string // "" means Dir/aliases when it exists
	Hostname    string // used when sendmail.mc does not set confDOMAIN_NAME
	DataDir     string // data_dir of the new config; "" means /var/lib/postern
	MapsDir     string // maps_dir of the new config (where Maps will be written)
	User        string // user to drop to when started as root; "" leaves it unset
}

// Note is one remark of the import, tied to a source line when it has one.
type Note struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Text string `json:"text"`
}

func (n Note) String() string {
	if n.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Text)
	}
	if n.File != "" {
		return n.File + ": " + n.Text
	}
	return n.Text
}

// Imported is the result: a config file, the maps for maps_dir, notes on
// every entry whose meaning changed, and everything that could not be
// carried over.
type Imported struct {
	Config     string            // postern TOML
	Maps       map[string]string // file name in maps_dir -> content
	Changed    []Note            // carried over, but means something different now
	NotCarried []Note            // left out; the admin must act
}

type listener struct {
	address, mode string
	line          int
	source        string
}

// importSetup is what Import gathered from the sendmail setup for the
// postern configuration it writes.
type importSetup struct {
	opt          ImportOptions
	cfg          *Config
	hostname     string
	localDomains []string
	relayDomains []string
	trusted      []string
	listeners    []listener
	milters      []mailFilter
	masquerade   []string
	blocklists   []dnsblList
	dnsblStage   string
}

// readFunc reads a file of the sendmail directory; ok is false when the
// file does not exist.
type readFunc func(name string) (src string, ok bool, err error)

// dirReader reads the files of dir.
func dirReader(dir string) readFunc {
	return func(name string) (string, bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return string(b), true, nil
	}
}

// Import reads the sendmail setup in opt.Dir.
func Import(opt ImportOptions) (*Imported, error) {
	if opt.DataDir == "" {
		opt.DataDir = "/var/lib/postern"
	}
	if opt.MapsDir == "" {
		opt.MapsDir = "/etc/postern"
	}
	im := &Imported{Maps: map[string]string{}}
	read := dirReader(opt.Dir)
	cfg, err := readConfig(opt.Dir, read, im)
	if err != nil {
		return nil, err
	}
	s := &importSetup{opt: opt, cfg: cfg, hostname: opt.Hostname}
	if j := cfg.Options["$j"]; j.Value != "" && !strings.Contains(j.Value, "$") {
		s.hostname = j.Value
	}
	if err := importDomains(read, s, im); err != nil {
		return nil, err
	}
	if err := importMaps(opt, read, im); err != nil {
		return nil, err
	}
	s.listeners = importListeners(cfg, im)
	s.milters = inputMailFilters(cfg, im)
	s.masquerade = masquerading(cfg, im)
	s.blocklists, s.dnsblStage = importDNSBL(cfg, im)
	noteUnsupported(cfg, im)
	sortNotes(im)
	im.Config = writeConfig(s, im)
	return im, nil
}

// readConfig parses the configuration: sendmail.mc is the source of
// truth; sendmail.cf only when no .mc. A file that cannot be read
// completely is noted, and what could be read of it is imported.
func readConfig(dir string, read readFunc, im *Imported) (*Config, error) {
	for _, name := range []string{"sendmail.mc", "sendmail.cf"} {
		src, ok, err := read(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		cfg, err := Parse(name, src)
		if err != nil {
			im.NotCarried = append(im.NotCarried, Note{File: name, Text: "could not be read completely: " + err.Error()})
		}
		if cfg == nil {
			break
		}
		return cfg, nil
	}
	return nil, fmt.Errorf("%s: neither sendmail.mc nor sendmail.cf found", dir)
}

// sortNotes orders both lists of notes by file and line, keeping the
// order of the notes on one line.
func sortNotes(im *Imported) {
	for _, l := range [][]Note{im.Changed, im.NotCarried} {
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].File != l[j].File {
				return l[i].File < l[j].File
			}
			return l[i].Line < l[j].Line
		})
	}
}
