package history

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"strings"
	"testing"
)

// sealed appends the checksum to b.
func sealed(b []byte) []byte { return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b)) }

func oneSeries(k byte, name string, bucket float32) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, k)
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint64(b, 100)
	b = binary.BigEndian.AppendUint64(b, 2)
	for i := 0; i < minutes+hours; i++ {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(bucket))
	}
	return b
}

func TestDecode(t *testing.T) {
	good := encode(map[string]*series{Accepted: newSeries(counter), Queue: newSeries(gauge)})
	twice := []byte(magic)
	twice = binary.BigEndian.AppendUint32(twice, 2)
	one := oneSeries(0, "a", 1)[len(magic)+4:]
	twice = append(append(twice, one...), one...)
	unordered := binary.BigEndian.AppendUint32([]byte(magic), 2)
	unordered = append(append(unordered, oneSeries(0, "b", 1)[len(magic)+4:]...), one...)
	tests := []struct {
		name string
		in   []byte
		err  string // "" for success
	}{
		{"good", good, ""},
		{"empty store", encode(map[string]*series{}), ""},
		{"one series", sealed(oneSeries(1, "outbound:a@example.org", 2)), ""},
		{"empty file", nil, "bad magic"},
		{"other magic", sealed([]byte("postern-history 2\n\x00\x00\x00\x00")), "bad magic"},
		{"checksum", append(append([]byte(nil), good[:len(good)-1]...), good[len(good)-1]^1), "checksum"},
		{"truncated", sealed(append([]byte(nil), good[:len(good)-100]...)), "ends early"},
		{"unknown kind", sealed(oneSeries(7, "a", 1)), "unknown kind"},
		{"control in name", sealed(oneSeries(0, "a\r\nb", 1)), "printable"},
		{"bad utf-8", sealed(oneSeries(0, "a\xff", 1)), "printable"},
		{"empty name", sealed(oneSeries(0, "", 1)), "name length"},
		{"negative bucket", sealed(oneSeries(0, "a", -1)), "bucket value"},
		{"NaN bucket", sealed(oneSeries(0, "a", float32(math.NaN()))), "bucket value"},
		{"twice", sealed(twice), "twice"},
		{"out of order", sealed(unordered), "out of order"},
		{"trailing", sealed(append(oneSeries(0, "a", 1), 0)), "after the last"},
		{"too many", sealed(binary.BigEndian.AppendUint32([]byte(magic), maxSeries+1)), "bound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decode(tc.in)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if again := encode(m); string(again) != string(tc.in) {
					t.Error("encode(decode(x)) != x")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(map[string]*series{Accepted: newSeries(counter)}))
	f.Add(sealed(oneSeries(1, "queue", 3)))
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decode(b)
		if err != nil {
			return
		}
		if len(m) > maxSeries {
			t.Fatalf("%d series", len(m))
		}
		// What decodes encodes back to the same bytes.
		if string(encode(m)) != string(b) {
			t.Fatal("round trip differs")
		}
	})
}
