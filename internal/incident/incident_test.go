package incident

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/inbound"
	"postern/internal/maps"
)

func TestBlockKey(t *testing.T) {
	tests := []struct{ in, key, err string }{
		{"192.0.2.1", "192.0.2.1", ""},
		{" 192.0.2.0/24 ", "192.0.2.0/24", ""},
		{"2001:db8::1", "IPv6:2001:db8::1", ""},
		{"2001:db8::/48", "IPv6:2001:db8::/48", ""},
		{"::ffff:192.0.2.1", "192.0.2.1", ""},
		{"192.0.2.1/24", "", "host bits"},
		{"example.org", "", "not an address"},
		{"fe80::1%eth0", "", "not an address"},
		{"", "", "not an address"},
	}
	for _, tt := range tests {
		k, _, err := BlockKey(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || k != tt.key {
			t.Errorf("%q: %q %v, want %q", tt.in, k, err, tt.key)
		}
	}
}

func TestBlockAndRefuse(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access")
	os.WriteFile(p, []byte("Connect:10.0.0 RELAY"), 0o640) // no final newline
	now := time.Date(2026, 11, 21, 1, 2, 3, 0, time.UTC)
	for _, target := range []string{"192.0.2.7", "198.51.100.0/24", "2001:db8:bad::/48"} {
		if _, err := Block(p, target, "spam\nrun", now); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
	}
	if _, err := Block(p, "192.0.2.7", "", now); !errors.Is(err, ErrAlreadyBlocked) {
		t.Errorf("second block: %v", err)
	}
	data, _ := os.ReadFile(p)
	if !strings.Contains(string(data), "Connect:10.0.0 RELAY\n# blocked 2026-11-21T01:02:03Z: spam run\nConnect:192.0.2.7 REJECT\n") {
		t.Errorf("file:\n%s", data)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", fi.Mode())
	}
	set, err := maps.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := &AccessChecker{Maps: set.Maps}
	for ip, refused := range map[string]bool{"192.0.2.7": true, "198.51.100.9": true, "2001:db8:bad::5": true,
		"192.0.2.8": false, "10.0.0.1": false} {
		c := &inbound.Conn{Remote: netip.AddrPortFrom(netip.MustParseAddr(ip), 25), Values: map[any]any{}}
		v := ch.CheckConnect(context.Background(), c)
		if got := v != nil; got != refused {
			t.Errorf("%s: verdict %+v", ip, v)
		}
		if v != nil && (v.Reply.Code != 554 || !strings.Contains(v.Rule, "REJECT")) {
			t.Errorf("%s: %+v %+v", ip, v, v.Reply)
		}
	}
}

func TestBlockKeepsBrokenMapAlone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "access")
	os.WriteFile(p, []byte("Bogus:x REJECT\n"), 0o644)
	if _, err := Block(p, "192.0.2.7", "", time.Now()); err == nil {
		t.Error("blocked into a broken map")
	}
	data, _ := os.ReadFile(p)
	if string(data) != "Bogus:x REJECT\n" {
		t.Errorf("file changed: %q", data)
	}
}

func TestParseManifest(t *testing.T) {
	good := "postern-backup 1\ncreated 2026-11-21T01:02:03Z\nhost \"mx\"\nconfig \"/etc/postern/postern.toml\"\n" +
		"file 0600 3 " + strings.Repeat("a", 64) + " \"data/users\" \"/var/lib/postern/users\"\n" +
		"dir 0700 \"data/dkim\" \"/var/lib/postern/dkim dir\"\n"
	m, err := ParseManifest([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Items) != 2 || m.Items[0].Size != 3 || m.Items[0].Mode != 0o600 || !m.Items[1].Dir || m.Items[1].Source != "/var/lib/postern/dkim dir" {
		t.Errorf("%+v", m)
	}
	if again, err := ParseManifest(m.Marshal()); err != nil || len(again.Items) != 2 {
		t.Errorf("round trip: %v", err)
	}
	bad := map[string]string{
		"magic":      "postern-backup 2\n",
		"traversal":  strings.Replace(good, `"data/users"`, `"data/../../etc/passwd"`, 1),
		"absolute":   strings.Replace(good, `"data/users"`, `"/etc/passwd"`, 1),
		"other area": strings.Replace(good, `"data/users"`, `"spool/x"`, 1),
		"mode":       strings.Replace(good, "file 0600", "file 9999", 1),
		"hash":       strings.Replace(good, strings.Repeat("a", 64), "xyz", 1),
		"duplicate":  good + "dir 0700 \"data/dkim\" \"/x\"\n",
		"unknown":    good + "link a b\n",
		"no config":  "postern-backup 1\ncreated 2026-11-21T01:02:03Z\n",
		"quote":      strings.Replace(good, `"mx"`, `"mx`, 1),
	}
	for name, in := range bad {
		if _, err := ParseManifest([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseManifestErrors(t *testing.T) {
	head := "postern-backup 1\ncreated 2026-11-21T01:02:03Z\nconfig \"/c\"\n"
	sum := strings.Repeat("0", 64)
	tests := []struct{ in, want string }{
		{"", "empty manifest"},
		{"postern-backup 2\n", `manifest line 1: not a postern backup (want "postern-backup 1")`},
		{"postern-backup 1\nhost mx\n", "manifest lacks its created or config line"},
		{"postern-backup 1\ncreated 2026-11-21T01:02:03Z\n", "manifest lacks its created or config line"},
		{"postern-backup 1\ncreated soon\n", `manifest line 2: bad time "soon"`},
		{"postern-backup 1\ncreated a b\n", "manifest line 2: want created TIME"},
		{head + "host a b\n", "manifest line 4: want host NAME"},
		{head + "config\n", "manifest line 4: want config PATH"},
		{head + "host \"mx\n", "manifest line 4: bad quoted string"},
		{head + "host \"mx\"x\n", "manifest line 4: no space after a quoted string"},
		{head + "link a b\n", `manifest line 4: unknown item "link"`},
		{head + "\n", `manifest line 4: unknown item ""`},
		{head + "dir 0700 \"data/x\"\n", "manifest line 4: dir wants 3 fields, has 2"},
		{head + "file 0600 1 \"data/x\" \"/x\"\n", "manifest line 4: file wants 5 fields, has 4"},
		{head + "dir 1777 \"data/x\" \"/x\"\n", `manifest line 4: bad mode "1777"`},
		{head + "file 0600 -1 " + sum + " \"data/x\" \"/x\"\n", `manifest line 4: bad size "-1"`},
		{head + "file 0600 1 " + strings.Repeat("A", 64) + " \"data/x\" \"/x\"\n", `manifest line 4: bad sha256 "` + strings.Repeat("A", 64) + `"`},
		{head + "dir 0700 \"data/../x\" \"/x\"\n", `manifest line 4: bad member name "data/../x"`},
		{head + "dir 0700 \"spool/x\" \"/x\"\n", `manifest line 4: member "spool/x" is not under config, maps, data, tls`},
		{head + "dir 0700 \"data/x\" \"/x\"\nfile 0600 0 " + sum + " \"data/x\" \"/y\"\n", "manifest line 5: data/x listed twice"},
	}
	for _, tt := range tests {
		m, err := ParseManifest([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseManifest(%q) = %+v, %v; want error %q", tt.in, m, err, tt.want)
		}
	}
	m, err := ParseManifest([]byte(head + "host \"\"\nhost \"mx\"\ndir 0755 \"tls/x\" \"/t\"\n"))
	if err != nil || m.Host != "mx" || m.Config != "/c" || len(m.Items) != 1 || m.Items[0].Mode != 0o755 || !m.Items[0].Dir {
		t.Errorf("later host line: %+v, %v", m, err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("postern-backup 1\ncreated 2026-11-21T01:02:03Z\nhost \"mx\"\nconfig \"/c\"\ndir 0700 \"data/dkim\" \"/d\"\n"))
	f.Add([]byte("postern-backup 1\nfile 0600 1 " + strings.Repeat("0", 64) + " \"maps/access\" \"/m\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		for _, it := range m.Items {
			if checkName(it.Name) != nil {
				t.Fatalf("accepted bad name %q", it.Name)
			}
		}
		if _, err := ParseManifest(m.Marshal()); err != nil {
			t.Fatalf("marshalled manifest does not parse: %v", err)
		}
	})
}

func TestBackupRestore(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "dkim", "example.org"), 0o700)
	os.WriteFile(filepath.Join(src, "dkim", "example.org", "s1.key"), []byte("KEY"), 0o600)
	os.WriteFile(filepath.Join(src, "users"), []byte("a@example.org:*\n"), 0o600)
	os.WriteFile(filepath.Join(src, "postern.toml"), []byte("hostname = \"mx\"\n"), 0o644)
	var buf bytes.Buffer
	man, err := WriteBackup(&buf, []Source{
		{Name: "config/postern.toml", Path: filepath.Join(src, "postern.toml")},
		{Name: "data/users", Path: filepath.Join(src, "users")},
		{Name: "data/dkim", Path: filepath.Join(src, "dkim")},
		{Name: "data/tls", Path: filepath.Join(src, "tls"), Optional: true},
	}, "mx", "/etc/postern.toml", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Items) != 5 {
		t.Errorf("items %+v", man.Items)
	}
	a, err := ReadBackup(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	dest := func(name string) (string, error) { return filepath.Join(dst, filepath.FromSlash(name)), nil }
	if _, err := a.Restore(dest, false, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dst, "data", "dkim", "example.org", "s1.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key: %v %v", fi, err)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "data", "dkim")); fi.Mode().Perm() != 0o700 {
		t.Errorf("dkim dir mode %v", fi.Mode())
	}
	if _, err := a.Restore(dest, false, false); err == nil || !strings.Contains(err.Error(), "-force") {
		t.Errorf("overwrite without force: %v", err)
	}
	if _, err := a.Restore(dest, true, false); err != nil {
		t.Errorf("with force: %v", err)
	}
	// A damaged archive is refused.
	b := buf.Bytes()
	for _, cut := range []int{10, len(b) / 2, len(b) - 5} {
		if _, err := ReadBackup(bytes.NewReader(b[:cut])); err == nil {
			t.Errorf("archive cut at %d read", cut)
		}
	}
	// A link is not backed up.
	os.Symlink("/etc/passwd", filepath.Join(src, "dkim", "link"))
	if _, err := WriteBackup(&bytes.Buffer{}, []Source{{Name: "data/dkim", Path: filepath.Join(src, "dkim")}}, "mx", "/c", time.Now()); err == nil {
		t.Error("symlink backed up")
	}
}
