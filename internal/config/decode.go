package config

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"time"
)

// decoder copies the generic tree the TOML library produced into the
// Config structs by their `toml` tags, checking every key's type and
// collecting one problem per bad key instead of stopping at the first.
type decoder struct {
	file     string
	pos      positions
	problems []Problem
	warnings []Warning
	defined  map[string]bool // paths present in the file
}

func (d *decoder) errorf(path string, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: d.pos.line(path), Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(path string, format string, args ...any) {
	d.warnings = append(d.warnings, Warning{File: d.file, Line: d.pos.line(path), Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	prefixType   = reflect.TypeOf(netip.Prefix{})
)

// selfDecoder is a setting type that checks and stores its own value
// (such as a limit that allows -1).
type selfDecoder interface {
	decodeTOML(raw any) error
}

// typeDecoders decode the setting types whose TOML form is not their
// kind's: a duration is a string such as "5m", not an integer.
var typeDecoders = map[reflect.Type]func(d *decoder, path string, raw any, v reflect.Value){
	durationType: (*decoder).decodeDuration,
	prefixType:   (*decoder).decodePrefix,
}

// decode stores raw into v (settable), naming problems after path. A
// selfDecoder decodes itself, the typeDecoders their types; other values
// are decoded by their kind.
func (d *decoder) decode(path string, raw any, v reflect.Value) {
	d.defined[path] = true
	if v.CanAddr() {
		if sd, ok := v.Addr().Interface().(selfDecoder); ok {
			if err := sd.decodeTOML(raw); err != nil {
				d.errorf(path, "%s %v", path, err)
			}
			return
		}
	}
	if dec, ok := typeDecoders[v.Type()]; ok {
		dec(d, path, raw, v)
		return
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			d.errorf(path, "%s must be a string, not %s", path, typeName(raw))
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			d.errorf(path, "%s must be true or false, not %s", path, typeName(raw))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		d.decodeInt(path, raw, v)
	case reflect.Slice:
		d.decodeSlice(path, raw, v)
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			d.errorf(path, "%s must be a table, not %s", path, typeName(raw))
			return
		}
		d.decodeStruct(path, m, v)
	default:
		d.errorf(path, "%s: unsupported setting type %s", path, v.Type())
	}
}

// decodeDuration stores a positive duration written as a string.
func (d *decoder) decodeDuration(path string, raw any, v reflect.Value) {
	s, ok := raw.(string)
	if !ok {
		d.errorf(path, "%s must be a duration such as \"5m\" or \"30s\", not %s", path, typeName(raw))
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		d.errorf(path, "%s: %q is not a positive duration such as \"5m\" or \"30s\"", path, s)
		return
	}
	v.SetInt(int64(dur))
}

// decodePrefix stores an address or CIDR network written as a string,
// warning when it needed fixing (parsePrefix).
func (d *decoder) decodePrefix(path string, raw any, v reflect.Value) {
	s, ok := raw.(string)
	if !ok {
		d.errorf(path, "%s must be a string with an address or CIDR network, not %s", path, typeName(raw))
		return
	}
	p, warn, err := parsePrefix(s)
	if err != nil {
		d.errorf(path, "%s: %v", path, err)
		return
	}
	if warn != "" {
		d.warnf(path, "%s: %s", path, warn)
	}
	v.Set(reflect.ValueOf(p))
}

// decodeInt stores a non-negative integer that fits v.
func (d *decoder) decodeInt(path string, raw any, v reflect.Value) {
	n, ok := raw.(int64)
	if !ok {
		d.errorf(path, "%s must be an integer, not %s", path, typeName(raw))
		return
	}
	if n < 0 {
		d.errorf(path, "%s must not be negative", path)
		return
	}
	if v.OverflowInt(n) || n > math.MaxInt32 && v.Kind() == reflect.Int32 {
		d.errorf(path, "%s: %d is too large", path, n)
		return
	}
	v.SetInt(n)
}

func (d *decoder) decodeSlice(path string, raw any, v reflect.Value) {
	var elems []any
	switch r := raw.(type) {
	case []any:
		elems = r
	case []map[string]any:
		for _, m := range r {
			elems = append(elems, m)
		}
	default:
		if v.Type().Elem().Kind() == reflect.Struct {
			d.errorf(path, "%s must be an array of tables ([[%s]]), not %s", path, path, typeName(raw))
		} else {
			d.errorf(path, "%s must be an array, not %s", path, typeName(raw))
		}
		return
	}
	out := reflect.MakeSlice(v.Type(), len(elems), len(elems))
	for i, e := range elems {
		d.decode(indexPath(path, i), e, out.Index(i))
	}
	v.Set(out)
}

// decodeStruct decodes the keys of m into the fields of struct v; keys
// without a field are reported as unknown.
func (d *decoder) decodeStruct(path string, m map[string]any, v reflect.Value) {
	fields := map[string][]int{}
	structFields(v.Type(), nil, fields)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kp := joinPath(path, k)
		i, ok := fields[k]
		if !ok {
			d.errorf(kp, "unknown key %s%s", kp, suggest(k, fields))
			continue
		}
		d.decode(kp, m[k], v.FieldByIndex(i))
	}
}

// structFields maps the toml tags of t's fields to their index paths. The
// fields of an embedded struct without a tag count as t's own, so that a
// topic's keys can live in their own type and file yet sit in the same
// TOML table.
func structFields(t reflect.Type, prefix []int, fields map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(append([]int(nil), prefix...), i)
		tag := f.Tag.Get("toml")
		if tag == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			structFields(f.Type, idx, fields)
			continue
		}
		if tag != "" && tag != "-" {
			fields[tag] = idx
		}
	}
}

// suggest names a known key close to an unknown one (a typo).
func suggest(k string, fields map[string][]int) string {
	best, bestDist := "", 3
	for f := range fields {
		if dist := editDistance(strings.ToLower(k), f); dist < bestDist || dist == bestDist && best != "" && f < best {
			best, bestDist = f, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return fmt.Sprintf("a %T", v)
}
