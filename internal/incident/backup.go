package incident

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Source is one thing to back up: a file, or a directory taken whole.
type Source struct {
	Name     string // member name: "config/postern.toml", "maps/access", "data/dkim"...
	Path     string // where it is now
	Optional bool   // a missing Path is skipped rather than an error
}

// Bounds on what a backup holds, so that a wrong path (a mailbox tree)
// or a hostile archive cannot fill memory.
const (
	maxFileBytes  = 64 << 20
	maxTotalBytes = 512 << 20
	maxMembers    = 100000
)

type member struct {
	item Item
	data []byte
	uid  int
	gid  int
	mod  time.Time
}

// WriteBackup writes a tar.gz of srcs to w, MANIFEST first, modes and
// owners kept, and returns the manifest. Symbolic links and special
// files are refused: a backup holds regular files and directories only.
func WriteBackup(w io.Writer, srcs []Source, host, configPath string, now time.Time) (*Manifest, error) {
	var ms []member
	total := int64(0)
	for _, s := range srcs {
		if err := checkName(s.Name); err != nil {
			return nil, err
		}
		fi, err := os.Lstat(s.Path)
		if errors.Is(err, fs.ErrNotExist) && s.Optional {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = filepath.WalkDir(s.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(s.Path, p)
			name := s.Name
			if rel != "." {
				name = path.Join(s.Name, filepath.ToSlash(rel))
			}
			m, err := readMember(p, name)
			if err != nil {
				return err
			}
			total += m.item.Size
			if total > maxTotalBytes || len(ms) >= maxMembers {
				return fmt.Errorf("backup larger than %d MiB or %d files: is a path wrong?", maxTotalBytes>>20, maxMembers)
			}
			ms = append(ms, m)
			return nil
		})
		if err != nil {
			return nil, err
		}
		_ = fi
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].item.Name < ms[j].item.Name })
	for i := 1; i < len(ms); i++ {
		if ms[i].item.Name == ms[i-1].item.Name {
			return nil, fmt.Errorf("%s is in the backup twice", ms[i].item.Name)
		}
	}
	man := &Manifest{Created: now, Host: host, Config: configPath}
	for _, m := range ms {
		man.Items = append(man.Items, m.item)
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	mdata := man.Marshal()
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(mdata)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(mdata); err != nil {
		return nil, err
	}
	for _, m := range ms {
		h := &tar.Header{Name: m.item.Name, Mode: int64(m.item.Mode.Perm()), ModTime: m.mod, Uid: m.uid, Gid: m.gid}
		if m.item.Dir {
			h.Typeflag, h.Name = tar.TypeDir, m.item.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, m.item.Size
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(m.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return man, gz.Close()
}

func readMember(p, name string) (member, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return member{}, err
	}
	m := member{item: Item{Name: name, Source: p, Mode: fi.Mode().Perm()}, mod: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		m.uid, m.gid = int(st.Uid), int(st.Gid)
	}
	switch {
	case fi.IsDir():
		m.item.Dir = true
		return m, nil
	case !fi.Mode().IsRegular():
		return member{}, fmt.Errorf("%s: not a regular file or directory (links are not backed up)", p)
	case fi.Size() > maxFileBytes:
		return member{}, fmt.Errorf("%s: larger than %d MiB", p, maxFileBytes>>20)
	}
	m.data, err = os.ReadFile(p)
	if err != nil {
		return member{}, err
	}
	sum := sha256.Sum256(m.data)
	m.item.Size, m.item.SHA256 = int64(len(m.data)), hex.EncodeToString(sum[:])
	return m, nil
}

// Archive is a backup read back and checked against its manifest.
type Archive struct {
	Manifest *Manifest
	members  map[string]member
}

// ReadBackup reads a tar.gz written by WriteBackup and checks it: the
// manifest comes first, every member is listed in it with the right size
// and SHA-256, and nothing is missing.
func ReadBackup(r io.Reader) (*Archive, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzip file: %v", err)
	}
	tr := tar.NewReader(gz)
	h, err := tr.Next()
	if err != nil || h.Name != ManifestName || h.Typeflag != tar.TypeReg {
		return nil, errors.New("not a postern backup: the archive does not start with its MANIFEST")
	}
	mdata, err := io.ReadAll(io.LimitReader(tr, maxManifest+1))
	if err != nil {
		return nil, err
	}
	man, err := ParseManifest(mdata)
	if err != nil {
		return nil, err
	}
	want := map[string]Item{}
	for _, it := range man.Items {
		want[it.Name] = it
	}
	a := &Archive{Manifest: man, members: map[string]member{}}
	total := int64(0)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// The gzip trailer's checksum and length end the check.
			if _, err := io.Copy(io.Discard, gz); err != nil {
				return nil, fmt.Errorf("reading the archive: %v", err)
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %v", err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		it, ok := want[name]
		if !ok {
			return nil, fmt.Errorf("archive member %q is not in the manifest", h.Name)
		}
		if _, dup := a.members[name]; dup {
			return nil, fmt.Errorf("archive member %q appears twice", name)
		}
		m := member{item: it, uid: h.Uid, gid: h.Gid, mod: h.ModTime}
		switch {
		case it.Dir && h.Typeflag == tar.TypeDir:
		case !it.Dir && h.Typeflag == tar.TypeReg:
			if h.Size != it.Size || it.Size > maxFileBytes {
				return nil, fmt.Errorf("%s: size %d, the manifest says %d", name, h.Size, it.Size)
			}
			if total += it.Size; total > maxTotalBytes {
				return nil, fmt.Errorf("archive larger than %d MiB", maxTotalBytes>>20)
			}
			if m.data, err = io.ReadAll(io.LimitReader(tr, it.Size+1)); err != nil {
				return nil, err
			}
			sum := sha256.Sum256(m.data)
			if int64(len(m.data)) != it.Size || hex.EncodeToString(sum[:]) != it.SHA256 {
				return nil, fmt.Errorf("%s: content does not match the manifest (damaged archive?)", name)
			}
		default:
			return nil, fmt.Errorf("%s: member type does not match the manifest", name)
		}
		a.members[name] = m
	}
	for name := range want {
		if _, ok := a.members[name]; !ok {
			return nil, fmt.Errorf("%s is in the manifest but not in the archive", name)
		}
	}
	return a, nil
}

// File returns a file member's content.
func (a *Archive) File(name string) ([]byte, bool) {
	m, ok := a.members[name]
	if !ok || m.item.Dir {
		return nil, false
	}
	return m.data, true
}

// Restore writes every member to dest(name) (an error there stops
// before anything is written). Unless force is set, it refuses when any
// target file exists, listing them all. Modes are kept; owners too when
// chown is set (running as root). Files are replaced atomically.
func (a *Archive) Restore(dest func(name string) (string, error), force, chown bool) ([]string, error) {
	type target struct {
		m    member
		path string
	}
	var ts []target
	var exist []string
	for _, it := range a.Manifest.Items {
		p, err := dest(it.Name)
		if err != nil {
			return nil, err
		}
		if p == "" {
			continue // not restored here
		}
		if fi, err := os.Lstat(p); err == nil && !(it.Dir && fi.IsDir()) {
			exist = append(exist, p)
		}
		ts = append(ts, target{a.members[it.Name], p})
	}
	if len(exist) > 0 && !force {
		return nil, fmt.Errorf("refusing to overwrite (use -force): %s", strings.Join(exist, ", "))
	}
	var done []string
	for _, t := range ts {
		it := t.m.item
		if it.Dir {
			if err := os.MkdirAll(t.path, it.Mode.Perm()|0o700); err != nil {
				return done, err
			}
			if err := os.Chmod(t.path, it.Mode.Perm()); err != nil {
				return done, err
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(t.path), 0o755); err != nil {
				return done, err
			}
			if err := writeAtomic(t.path, t.m.data, it.Mode.Perm()); err != nil {
				return done, err
			}
		}
		if chown {
			if err := os.Lchown(t.path, t.m.uid, t.m.gid); err != nil {
				return done, err
			}
		}
		done = append(done, t.path)
	}
	return done, nil
}

func writeAtomic(p string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".restore*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
