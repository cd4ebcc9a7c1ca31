package procnet

import (
	"strings"
	"testing"
)

// FuzzParse: any table parses or fails without a panic, and every
// socket read back is valid.
func FuzzParse(f *testing.F) {
	f.Add("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:2351 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n")
	f.Fuzz(func(t *testing.T, table string) {
		socks, err := Parse(strings.NewReader(table))
		if err != nil {
			return
		}
		for _, s := range socks {
			if !s.Local.IsValid() || !s.Remote.IsValid() || s.UID < 0 {
				t.Fatalf("invalid socket %+v from %q", s, table)
			}
		}
	})
}
