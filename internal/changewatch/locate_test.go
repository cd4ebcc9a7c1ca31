package changewatch

import "testing"

func TestLocate(t *testing.T) {
	tests := []struct {
		name, text, dataDir, admin string
	}{
		{"fine", "data_dir = \"/srv/p\"\n[admin]\naddress = \"127.0.0.1:9\"\n", "/srv/p", "127.0.0.1:9"},
		{"syntax error after", "data_dir = \"/srv/p\"\nhostname = = x\n[admin]\naddress = \"127.0.0.1:9\"\n", "/srv/p", "127.0.0.1:9"},
		{"unclosed string", "hostname = \"x\ndata_dir = \"/srv/q\"\n", "/srv/q", ""},
		{"default", "[[listener\n", "/var/lib/postern", ""},
		{"relative", "data_dir = \"data\"\n", "/etc/postern/data", ""},
		{"wrong type", "data_dir = 3\n", "/var/lib/postern", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Locate("/etc/postern/postern.toml", tt.text)
			if l.DataDir != tt.dataDir || l.Admin.Address != tt.admin {
				t.Fatalf("salvage = %+v, want %q %q", l, tt.dataDir, tt.admin)
			}
		})
	}
}

func FuzzLocate(f *testing.F) {
	f.Add("data_dir = \"/srv/p\"\nx = = 1\n[admin]\naddress = \"a\"\n")
	f.Add("[[listener\n")
	f.Fuzz(func(t *testing.T, text string) {
		if l := Locate("/etc/p.toml", text); l.DataDir == "" {
			t.Fatal("no data dir")
		}
	})
}
