package history

// ring holds the newest len(v) buckets of a series, bucket b in slot b
// mod len(v); last is the newest bucket it has reached.
type ring struct {
	last int64
	v    []float32
}

// advance moves the ring forward to bucket b, clearing the slots of the
// buckets it passes.
func (r *ring) advance(b int64) {
	if b <= r.last {
		return
	}
	n := int64(len(r.v))
	if b-r.last >= n {
		clear(r.v)
	} else {
		for x := r.last + 1; x <= b; x++ {
			r.v[mod(x, n)] = 0
		}
	}
	r.last = b
}

// at returns bucket b's slot, nil when the ring no longer (or, without
// write, not yet) holds it. With write the ring first advances to b.
func (r *ring) at(b int64, write bool) *float32 {
	if write {
		r.advance(b)
	}
	n := int64(len(r.v))
	if b > r.last || b <= r.last-n {
		return nil
	}
	return &r.v[mod(b, n)]
}

// read fills out with the buckets ending at end, oldest first.
func (r *ring) read(end int64, out []float64) {
	for i := range out {
		if p := r.at(end-int64(len(out)-1-i), false); p != nil {
			out[i] = float64(*p)
		}
	}
}

func mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}
