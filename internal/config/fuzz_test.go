package config

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzLoad(f *testing.F) {
	f.Add(goodConfig)
	f.Add("hostname = \"mx.example.test\"\n[[listener]]\naddress = \":25\"\nmode = \"mta\"\n")
	f.Add("listener = [{address = \"127.0.0.1:25\", mode = \"mta\"}]\n[limits]\nmax_errors = 3\n")
	f.Add("a = \"\"\"\nb = 1\n\"\"\"\n[x.y]\nz = [1, [2, {q = 3}]]\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(dir, "fuzz.toml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		c, _, err := Load(p)
		if err == nil && c == nil {
			t.Fatal("Load returned neither a config nor an error")
		}
		if err != nil && c != nil {
			t.Fatal("Load returned both a config and an error")
		}
	})
}

func FuzzPositions(f *testing.F) {
	f.Add(goodConfig)
	f.Add("[[a]]\n[a.b]\nc = '''x\n'''\n[[a]]\n")
	f.Add("k = \"unterminated\n[t\n")
	f.Fuzz(func(t *testing.T, text string) {
		pos := scanPositions(text)
		for k, l := range pos {
			if l < 1 || l > len(text)+1 {
				t.Fatalf("pos[%q] = %d out of range", k, l)
			}
		}
	})
}
