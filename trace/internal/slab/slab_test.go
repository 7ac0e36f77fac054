package slab

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

type item struct {
	a, b uint64
	s    string
}

// TestTake checks that every object is zero when taken and never given twice, across slab boundaries and from
// concurrent goroutines (run with -race: each goroutine writes the objects it took).
func TestTake(t *testing.T) {
	s := New[item](256) // 8 items per slab, so that slabs run out often
	const goroutines, each = 4, 1000
	got := make([][]*item, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				it := s.Take()
				if *it != (item{}) {
					t.Errorf("goroutine %d, take %d: not zero: %+v", g, i, *it)
					return
				}
				it.a, it.b, it.s = uint64(g), uint64(i), "taken"
				got[g] = append(got[g], it)
			}
		}()
	}
	wg.Wait()
	seen := make(map[*item]bool)
	for g := range got {
		for i, it := range got[g] {
			if seen[it] {
				t.Fatalf("goroutine %d, take %d: object given twice", g, i)
			}
			seen[it] = true
			if it.a != uint64(g) || it.b != uint64(i) {
				t.Fatalf("goroutine %d, take %d: overwritten: %+v", g, i, *it)
			}
		}
	}
}

func TestStrings(t *testing.T) {
	s := NewStrings(64) // strings up to 8 bytes from chunks, longer ones on their own
	tests := []string{"", "a", "traceps", "12345678", "123456789", strings.Repeat("x", 100)}
	var made []string
	buf := make([]byte, 0, 128)
	for round := range 20 {
		for _, want := range tests {
			buf = append(buf[:0], want...)
			got := s.Make(buf)
			clear(buf) // the caller reuses its buffer; the string must not change
			if got != want {
				t.Fatalf("round %d: Make(%q) = %q", round, want, got)
			}
			made = append(made, got)
		}
	}
	for i, got := range made {
		if want := tests[i%len(tests)]; got != want {
			t.Fatalf("string %d changed after later Makes: %q, want %q", i, got, want)
		}
	}
}

func TestStringsConcurrent(t *testing.T) {
	s := NewStrings(256)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var made []string
			for i := range 500 {
				made = append(made, s.Make(fmt.Appendf(nil, "%d:%d", g, i)))
			}
			for i, got := range made {
				if want := fmt.Sprintf("%d:%d", g, i); got != want {
					t.Errorf("goroutine %d: string %d = %q, want %q", g, i, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSlabFitsSizeClass checks that a slab of pointerful objects, with the allocator's header, stays within the
// size class asked for: each object then costs its own size, not a seventh more (testing.AllocsPerRun cannot
// see bytes, so this measures them with runtime.MemStats).
func TestSlabFitsSizeClass(t *testing.T) {
	type obj struct {
		_ *int // pointerful: the slab then has the allocator's header
		_ [15]uint64
	} // 128 bytes: 8192/128 objects would need 8200 bytes with the header
	s := New[obj](8192)
	if got := int(s.n) * 128; got > 8192-mallocHeader {
		t.Errorf("a slab holds %d objects, %d bytes, beyond 8192 with the allocator's header", s.n, got)
	}
}

// TestTakePinned checks that a pinned take answers nil before the P has a slab and once it is used up, and
// otherwise gives fresh slots that Take never gives again.
func TestTakePinned(t *testing.T) {
	s := New[[4]uint64](256) // 7 per slab
	take := func() *[4]uint64 {
		pid := procPin()
		defer procUnpin()
		return s.TakePinned(pid)
	}
	if p := take(); p != nil {
		t.Fatal("a pinned take before any slab gave a slot")
	}
	seen := map[*[4]uint64]bool{s.Take(): true}
	pinned := 0
	for i := 0; i < 100; i++ {
		p := take()
		if p == nil {
			p = s.Take() // the slab is used up (or the goroutine moved to a P without one)
		} else {
			pinned++
		}
		if seen[p] || *p != [4]uint64{} {
			t.Fatalf("slot %p given twice or not zero", p)
		}
		p[0] = 1
		seen[p] = true
	}
	if pinned == 0 {
		t.Error("no pinned take gave a slot")
	}
}

// TestMoreProcs checks that objects taken on Ps beyond those counted when the slabs were made are still fresh
// and never given twice (such Ps have no slab of their own).
func TestMoreProcs(t *testing.T) {
	s := New[item](256)
	str := NewStrings(256)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(len(s.per) + 4))
	var mu sync.Mutex
	seen := map[*item]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				it := s.Take()
				if *it != (item{}) {
					t.Error("a taken object is not zero")
					return
				}
				it.a = uint64(i)
				if v := str.Make([]byte(fmt.Sprint(i))); v != fmt.Sprint(i) {
					t.Errorf("string %q, want %d", v, i)
					return
				}
				mu.Lock()
				if seen[it] {
					t.Error("an object was given twice")
				}
				seen[it] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
