package changelog

// editScript finds a shortest edit script from a to b (Myers' O(ND)
// search on the lines between the common beginning and end); false when
// it would need more than maxEdits edits or maxSteps comparisons.
func editScript(a, b []string) ([]op, bool) {
	prefix, suffix := commonEnds(a, b)
	ma, mb := a[prefix:len(a)-suffix], b[prefix:len(b)-suffix]
	mid, ok := myers(ma, mb)
	if !ok {
		return nil, false
	}
	ops := make([]op, 0, prefix+len(mid)+suffix)
	for i := 0; i < prefix; i++ {
		ops = append(ops, op{' ', i, i})
	}
	for _, o := range mid {
		ops = append(ops, op{o.kind, o.a + prefix, o.b + prefix})
	}
	for i := 0; i < suffix; i++ {
		ops = append(ops, op{' ', len(a) - suffix + i, len(b) - suffix + i})
	}
	return ops, true
}

// myers is the greedy forward search, keeping the furthest point of each
// diagonal for every number of edits d, then walking back.
func myers(a, b []string) ([]op, bool) {
	n, m := len(a), len(b)
	if abs(n-m) > maxEdits {
		return nil, false
	}
	// Lines as numbers: one comparison per step.
	ids := map[string]int32{}
	num := func(ls []string) []int32 {
		out := make([]int32, len(ls))
		for i, l := range ls {
			id, ok := ids[l]
			if !ok {
				id = int32(len(ids))
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	x, y := num(a), num(b)
	limit := min(n+m, maxEdits)
	off := limit + 1
	v := make([]int32, 2*limit+3)
	var trace [][]int32
	steps := 0
	for d := 0; d <= limit; d++ {
		// Keep the diagonals -d..d of the previous round.
		trace = append(trace, append([]int32(nil), v[off-d:off+d+1]...))
		for k := -d; k <= d; k += 2 {
			var i int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				i = int(v[off+k+1])
			} else {
				i = int(v[off+k-1]) + 1
			}
			j := i - k
			for i < n && j < m && x[i] == y[j] {
				i, j = i+1, j+1
				steps++
			}
			steps++
			v[off+k] = int32(i)
			if i >= n && j >= m {
				return backtrack(trace, n, m), true
			}
		}
		if steps > maxSteps {
			return nil, false
		}
	}
	return nil, false
}

// backtrack turns the saved rounds into the edit script, in order.
// trace[d] holds the furthest points after round d-1, diagonal k at k+d.
func backtrack(trace [][]int32, n, m int) []op {
	var rev []op
	i, j := n, m
	for d := len(trace) - 1; d > 0; d-- {
		prev := trace[d]
		at := func(k int) int { return int(prev[k+d]) }
		k := i - j
		down := k == -d || (k != d && at(k-1) < at(k+1))
		pk := k - 1
		if down {
			pk = k + 1
		}
		pi := at(pk)
		pj := pi - pk
		// The snake after the edit starts one step from (pi, pj).
		si := pi + 1
		if down {
			si = pi
		}
		for i > si {
			i, j = i-1, j-1
			rev = append(rev, op{' ', i, j})
		}
		if down {
			rev = append(rev, op{'+', pi, pj})
		} else {
			rev = append(rev, op{'-', pi, pj})
		}
		i, j = pi, pj
	}
	for i > 0 {
		i, j = i-1, j-1
		rev = append(rev, op{' ', i, j})
	}
	out := make([]op, len(rev))
	for n, o := range rev {
		out[len(rev)-1-n] = o
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
