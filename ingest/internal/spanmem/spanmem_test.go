package spanmem

import (
	"fmt"
	"slices"
	"testing"
	"unsafe"
)

// TestBlocksAppend appends runs of every length (within a block, across the end of one, longer than a block) and
// checks each run as taken, after all the others were appended, and the blocks kept or not at the end.
func TestBlocksAppend(t *testing.T) {
	for _, reuse := range []bool{true, false} {
		l := Blocks[int]{Size: 8}
		var runs [][]int
		var want [][]int
		mark, next := 0, 1
		for _, n := range []int{0, 3, 5, 1, 7, 8, 9, 20, 2, 0, 6} {
			var w []int
			for range n {
				mark = l.Append(mark, next)
				w = append(w, next)
				next++
			}
			run := l.Since(mark)
			if len(run) != cap(run) {
				t.Fatalf("a run of %d has capacity %d: an append would write over the next", len(run), cap(run))
			}
			runs, want = append(runs, run), append(want, w)
			mark = l.Len()
		}
		l.Truncate(mark) // nothing to drop
		for i := range runs {
			if !slices.Equal(runs[i], want[i]) {
				t.Fatalf("run %d is %v, want %v", i, runs[i], want[i])
			}
		}
		l.Reset(reuse)
		n, zero := l.Free(func(x *int) bool { return *x == 0 })
		if reuse && (n == 0 || !zero) || !reuse && n != 0 {
			t.Fatalf("reuse %v: %d free blocks kept, all zero %v", reuse, n, zero)
		}
		if reuse {
			// The next request takes the free blocks: runs of the request before, if it were held, would change.
			p := l.New()
			if *p != 0 {
				t.Fatalf("New gave %d, not a zero element", *p)
			}
		}
	}
}

// TestStringsNeverRewritten makes many keys and values and checks that each is still what it was made from after
// all the others, that keys of the same text are one string, and that EndRequest does not change them.
func TestStringsNeverRewritten(t *testing.T) {
	var s Strings
	type made struct{ text, got string }
	var all []made
	for req := range 3 {
		for i := range 5000 {
			text := fmt.Sprintf("value-%d-%d", req, i%(1500+req))
			all = append(all, made{text, s.Value([]byte(text))})
			k := fmt.Sprintf("key.%d", i%40)
			got := s.Key([]byte(k))
			if again := s.Key([]byte(k)); unsafe.StringData(again) != unsafe.StringData(got) {
				t.Fatalf("key %q made twice", k)
			}
			all = append(all, made{k, got})
		}
		long := string(make([]byte, 2000))
		all = append(all, made{long, s.Value([]byte(long))})
		s.EndRequest()
	}
	for _, m := range all {
		if m.got != m.text {
			t.Fatalf("a string made from %q now reads %q", m.text, m.got)
		}
	}
	if s.Value(nil) != "" || s.Key(nil) != "" {
		t.Fatal("an empty text gives a string that is not empty")
	}
}
