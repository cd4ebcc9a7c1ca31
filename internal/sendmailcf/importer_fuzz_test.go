package sendmailcf

import (
	"strings"
	"testing"
)

// FuzzImportMaps feeds arbitrary text to the map converters: no panic,
// every input line ends up either converted, commented out or noted.
func FuzzImportMaps(f *testing.F) {
	f.Add("Connect:10 RELAY\nFrom:a@b RELAY\nexample.org RELAY\nx 550 no\nSpam:y FRIEND\n")
	f.Add("a: |/bin/prog, /tmp/file, :include:/etc/x\n  b, c\n")
	f.Add("example.org esmtp:[10.0.0.1]\n.example.org uucp:x\nbad\n")
	f.Fuzz(func(t *testing.T, src string) {
		im := &Imported{Maps: map[string]string{}}
		access := convertAccess(src, im)
		mailertable := convertMailertable(src, im)
		noteAliases(src, im)
		entries, errs := ReadMap(src)
		out := access + mailertable
		for _, e := range entries {
			if !strings.Contains(out, e.Key) {
				t.Fatalf("entry %q lost:\n%s", e.Raw, out)
			}
		}
		if len(errs) > 0 && len(im.NotCarried) < len(errs) {
			t.Fatalf("%d bad lines but %d notes", len(errs), len(im.NotCarried))
		}
		toCIDR(src)
		tomlString(src)
	})
}
