package maps

import (
	"io"
)

// kvEntry is what parseKV needs from an entry: where it was defined.
type kvEntry interface {
	definedAt() int
}

// parseKV reads a "key value" map (mailertable, virtusertable,
// genericstable): comments and blank lines skipped, a key without a value
// refused, each key normalised by key and each value read by value, a
// key given twice refused. Every problem is reported with its line, all
// at once.
func parseKV[T kvEntry](name string, r io.Reader, key func(string) (string, error), value func(nk, val string, src Source) (T, error)) (map[string]T, error) {
	el := &errList{file: name}
	m := make(map[string]T)
	for _, ln := range readLines(r, el) {
		if skippable(ln.text) {
			continue
		}
		k, val := splitKV(ln.text)
		if val == "" {
			el.add(ln.n, "key %q has no value", k)
			continue
		}
		nk, err := key(k)
		if err != nil {
			el.add(ln.n, "%s", err)
			continue
		}
		e, err := value(nk, val, Source{File: name, Line: ln.n})
		if err != nil {
			el.add(ln.n, "%s", err)
			continue
		}
		if old, dup := m[nk]; dup {
			el.add(ln.n, "duplicate key %q (first at line %d)", k, old.definedAt())
			continue
		}
		m[nk] = e
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return m, nil
}
