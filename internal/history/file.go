package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"unicode/utf8"
)

// The file, data_dir/history/history.dat, is magic, then the number of
// series (uint32), then per series: its kind (uint8), the length of its
// name (uint16) and the name, the newest minute and hour reached (int64
// bucket numbers since the epoch), then the 2,880 minute and 2,160 hour
// buckets (float32), then the CRC-32 (IEEE) of everything before it.
// Integers are big-endian.
const magic = "postern-history 1\n"

// FileName is the store's file in its directory.
const FileName = "history.dat"

const maxName = 1024

const seriesBytes = 1 + 2 + 8 + 8 + 4*(minutes+hours)

// encode writes the series, sorted by name.
func encode(m map[string]*series) []byte {
	names := make([]string, 0, len(m))
	size := len(magic) + 4 + 4
	for k := range m {
		names = append(names, k)
		size += seriesBytes + len(k)
	}
	sort.Strings(names)
	b := make([]byte, 0, size)
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, k := range names {
		x := m[k]
		b = append(b, byte(x.kind))
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint64(b, uint64(x.min.last))
		b = binary.BigEndian.AppendUint64(b, uint64(x.hour.last))
		for _, r := range [][]float32{x.min.v, x.hour.v} {
			for _, v := range r {
				b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
			}
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

var errShort = errors.New("file ends early")

// decode is the one parser of the file: strict, bounded, every value
// checked (a name of printable UTF-8, known kinds, names in order and
// none twice,
// finite non-negative buckets, nothing after the checksum).
func decode(b []byte) (map[string]*series, error) {
	if len(b) < len(magic)+8 || string(b[:len(magic)]) != magic {
		return nil, errors.New("not a postern history file (bad magic)")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checksum mismatch")
	}
	p := body[len(magic):]
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	if n > maxSeries {
		return nil, fmt.Errorf("%d series, more than the bound of %d", n, maxSeries)
	}
	m := make(map[string]*series, n)
	prev := ""
	for i := uint32(0); i < n; i++ {
		if len(p) < 3 {
			return nil, errShort
		}
		k, l := kind(p[0]), int(binary.BigEndian.Uint16(p[1:]))
		p = p[3:]
		if k != counter && k != gauge {
			return nil, fmt.Errorf("series %d: unknown kind %d", i, k)
		}
		if l == 0 || l > maxName || len(p) < l+16+4*(minutes+hours) {
			return nil, fmt.Errorf("series %d: %w or bad name length %d", i, errShort, l)
		}
		name := string(p[:l])
		if !validName(name) {
			return nil, fmt.Errorf("series %d: name %q is not printable UTF-8", i, name)
		}
		if name <= prev {
			// encode writes them sorted: also no name twice.
			return nil, fmt.Errorf("series %q out of order or twice", name)
		}
		prev = name
		p = p[l:]
		x := newSeries(k)
		x.min.last, x.hour.last = int64(binary.BigEndian.Uint64(p)), int64(binary.BigEndian.Uint64(p[8:]))
		p = p[16:]
		for _, r := range [][]float32{x.min.v, x.hour.v} {
			for j := range r {
				v := math.Float32frombits(binary.BigEndian.Uint32(p))
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
					return nil, fmt.Errorf("series %q: bucket value %v", name, v)
				}
				r[j] = v
				p = p[4:]
			}
		}
		m[name] = x
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d bytes after the last series", len(p))
	}
	return m, nil
}

func validName(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
