package incident

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// ManifestName is the first member of a backup archive.
const ManifestName = "MANIFEST"

const manifestMagic = "postern-backup 1"

// Manifest lists what a backup holds. Its text form, one item per line:
//
//	postern-backup 1
//	created 2026-11-21T01:02:03Z
//	host mx.example.org
//	config "/etc/postern/postern.toml"
//	file 0600 1234 <sha256 hex> "data/users" "/var/lib/postern/users"
//	dir 0700 "data/dkim" "/var/lib/postern/dkim"
type Manifest struct {
	Created time.Time
	Host    string
	Config  string // where the configuration file was
	Items   []Item
}

// Item is one file or directory of a backup.
type Item struct {
	Dir    bool
	Mode   fs.FileMode // permission bits
	Size   int64
	SHA256 string // hex, files only
	Name   string // member name in the archive: config/..., maps/..., data/..., tls/...
	Source string // the path it was read from
}

// Marshal returns the text form.
func (m *Manifest) Marshal() []byte {
	var b strings.Builder
	b.WriteString(manifestMagic + "\n")
	fmt.Fprintf(&b, "created %s\n", m.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "host %s\n", strconv.Quote(m.Host))
	fmt.Fprintf(&b, "config %s\n", strconv.Quote(m.Config))
	for _, it := range m.Items {
		if it.Dir {
			fmt.Fprintf(&b, "dir %04o %s %s\n", it.Mode.Perm(), strconv.Quote(it.Name), strconv.Quote(it.Source))
		} else {
			fmt.Fprintf(&b, "file %04o %d %s %s %s\n", it.Mode.Perm(), it.Size, it.SHA256, strconv.Quote(it.Name), strconv.Quote(it.Source))
		}
	}
	return []byte(b.String())
}

// maxManifest bounds the manifest read from an archive.
const maxManifest = 4 << 20

// ParseManifest reads the text form; every problem names its line.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifest {
		return nil, fmt.Errorf("manifest larger than %d bytes", maxManifest)
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 4096), maxManifest)
	p := &manifestParser{m: &Manifest{}, seen: map[string]bool{}}
	n := 0
	for sc.Scan() {
		n++
		if err := p.line(n, sc.Text()); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("manifest: %v", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("empty manifest")
	}
	if !p.sawCreated || !p.sawConfig {
		return nil, fmt.Errorf("manifest lacks its created or config line")
	}
	return p.m, nil
}

// manifestParser is the state of ParseManifest.
type manifestParser struct {
	m                     *Manifest
	seen                  map[string]bool // item names so far
	sawCreated, sawConfig bool
}

// manifestItems read the lines after the magic one, by their first
// word, given the fields after it.
var manifestItems = map[string]func(p *manifestParser, word string, fields []string) error{
	"created": (*manifestParser).created,
	"host":    (*manifestParser).host,
	"config":  (*manifestParser).config,
	"file":    (*manifestParser).item,
	"dir":     (*manifestParser).item,
}

// line reads line n: the magic first, then one item a line.
func (p *manifestParser) line(n int, line string) error {
	if n == 1 {
		if line != manifestMagic {
			return fmt.Errorf("manifest line 1: not a postern backup (want %q)", manifestMagic)
		}
		return nil
	}
	word, rest, _ := strings.Cut(line, " ")
	fields, err := splitQuoted(rest)
	if err != nil {
		return fmt.Errorf("manifest line %d: %v", n, err)
	}
	if read, ok := manifestItems[word]; ok {
		err = read(p, word, fields)
	} else {
		err = fmt.Errorf("unknown item %q", word)
	}
	if err != nil {
		return fmt.Errorf("manifest line %d: %s", n, err)
	}
	return nil
}

func (p *manifestParser) created(_ string, fields []string) error {
	if len(fields) != 1 {
		return errors.New("want created TIME")
	}
	t, err := time.Parse(time.RFC3339, fields[0])
	if err != nil {
		return fmt.Errorf("bad time %q", fields[0])
	}
	p.m.Created, p.sawCreated = t, true
	return nil
}

func (p *manifestParser) host(_ string, fields []string) error {
	if len(fields) != 1 {
		return errors.New("want host NAME")
	}
	p.m.Host = fields[0]
	return nil
}

func (p *manifestParser) config(_ string, fields []string) error {
	if len(fields) != 1 {
		return errors.New("want config PATH")
	}
	p.m.Config, p.sawConfig = fields[0], true
	return nil
}

// item reads a file line (mode, size, sha256, name, source) or a dir
// line (mode, name, source).
func (p *manifestParser) item(word string, fields []string) error {
	it := Item{Dir: word == "dir"}
	want := 5
	if it.Dir {
		want = 3
	}
	if len(fields) != want {
		return fmt.Errorf("%s wants %d fields, has %d", word, want, len(fields))
	}
	mode, err := strconv.ParseUint(fields[0], 8, 32)
	if err != nil || mode > 0o777 {
		return fmt.Errorf("bad mode %q", fields[0])
	}
	it.Mode = fs.FileMode(mode)
	if !it.Dir {
		if it.Size, err = strconv.ParseInt(fields[1], 10, 64); err != nil || it.Size < 0 {
			return fmt.Errorf("bad size %q", fields[1])
		}
		it.SHA256 = fields[2]
		if len(it.SHA256) != 64 || strings.Trim(it.SHA256, "0123456789abcdef") != "" {
			return fmt.Errorf("bad sha256 %q", it.SHA256)
		}
	}
	it.Name, it.Source = fields[want-2], fields[want-1]
	if err := checkName(it.Name); err != nil {
		return err
	}
	if p.seen[it.Name] {
		return fmt.Errorf("%s listed twice", it.Name)
	}
	p.seen[it.Name] = true
	p.m.Items = append(p.m.Items, it)
	return nil
}

// areas are the top directories of archive member names.
var areas = []string{"config", "maps", "data", "tls"}

// checkName accepts clean relative names under one of the areas.
func checkName(name string) error {
	if name == "" || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") ||
		name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("bad member name %q", name)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("bad member name %q", name)
		}
	}
	top, rest, _ := strings.Cut(name, "/")
	for _, a := range areas {
		if top == a && rest != "" {
			return nil
		}
	}
	return fmt.Errorf("member %q is not under %s", name, strings.Join(areas, ", "))
}

// splitQuoted splits on spaces; a field may be a Go-quoted string.
func splitQuoted(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("bad quoted string")
			}
			u, err := strconv.Unquote(q)
			if err != nil {
				return nil, err
			}
			out = append(out, u)
			s = s[len(q):]
			if s != "" && s[0] != ' ' {
				return nil, fmt.Errorf("no space after a quoted string")
			}
			continue
		}
		f, rest, _ := strings.Cut(s, " ")
		out = append(out, f)
		s = rest
	}
}
