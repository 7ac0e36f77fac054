package embedded

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPostingUnion checks the union of one term's posting lists from many inputs against a map: every ordinal
// once, in order, with the smallest minimum and largest maximum duration bucket of the lists that hold it. It runs
// terms one after another on one postingUnion, as mergeTerms does, so that a buffer reused too early shows.
func TestPostingUnion(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var u postingUnion
	for term := range 200 {
		k := 1 + r.IntN(40)
		durs := term%2 == 0
		type want struct{ lo, hi uint8 }
		expect := map[uint32]want{}
		u.reset()
		for range k {
			n := r.IntN(300)
			if term%7 == 0 {
				n = 0
			}
			seen := map[uint32]bool{}
			var l postingList
			for range n {
				o := uint32(r.IntN(1000))
				if seen[o] {
					continue
				}
				seen[o] = true
				l.ords = append(l.ords, o)
			}
			slices.Sort(l.ords)
			if durs {
				l.dmin, l.dmax = make([]uint8, 0, len(l.ords)), make([]uint8, 0, len(l.ords))
			}
			for _, o := range l.ords {
				var lo, hi uint8
				if durs {
					lo, hi = uint8(r.IntN(20)), uint8(20+r.IntN(20))
					l.dmin, l.dmax = append(l.dmin, lo), append(l.dmax, hi)
				}
				if w, ok := expect[o]; ok {
					lo, hi = min(lo, w.lo), max(hi, w.hi)
				}
				expect[o] = want{lo, hi}
			}
			u.add(l)
		}
		got := u.union()
		keys := make([]uint32, 0, len(expect))
		for o := range expect {
			keys = append(keys, o)
		}
		slices.Sort(keys)
		if !slices.Equal(got.ords, keys) && !(len(got.ords) == 0 && len(keys) == 0) {
			t.Fatalf("term %d (%d lists): ordinals %v, want %v", term, k, got.ords, keys)
		}
		if !durs {
			if got.dmin != nil || got.dmax != nil {
				t.Fatalf("term %d: duration buckets for lists without them", term)
			}
			continue
		}
		if len(got.dmin) != len(keys) || len(got.dmax) != len(keys) {
			t.Fatalf("term %d: %d and %d duration buckets for %d ordinals", term, len(got.dmin), len(got.dmax), len(keys))
		}
		for i, o := range keys {
			if w := expect[o]; got.dmin[i] != w.lo || got.dmax[i] != w.hi {
				t.Fatalf("term %d: ordinal %d buckets %d..%d, want %d..%d", term, o, got.dmin[i], got.dmax[i], w.lo, w.hi)
			}
		}
	}
}
