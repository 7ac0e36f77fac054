package trace

import (
	"testing"
	"unsafe"
)

// TestPerPLayout keeps each P's share a whole number of cache lines, so that two Ps never share one.
func TestPerPLayout(t *testing.T) {
	if n := unsafe.Sizeof(perP{}); n%64 != 0 {
		t.Errorf("perP is %d bytes, not a multiple of 64", n)
	}
	if off := unsafe.Offsetof(ring{}.tail); off%64 != 0 {
		t.Errorf("ring.tail at %d shares a cache line with ring.head", off)
	}
}

// TestSpanLayout keeps what every start and end writes (the span's own fields, and its data up to Counters)
// within the first four cache lines of a span, the ones prefetchSpan fetches and reset clears when the span's
// last life wrote nothing beyond them.
func TestSpanLayout(t *testing.T) {
	if end := unsafe.Offsetof(Span{}.data) + unsafe.Offsetof(SpanData{}.StatusMessage); end > 4*64 {
		t.Errorf("a span's hot fields end at %d bytes, beyond the 256 that prefetchSpan fetches", end)
	}
	var s Span
	if spanOf(&s.data) != &s {
		t.Error("spanOf does not find the span that holds a span's data")
	}
}

// TestContextSizes keeps the objects made per span and per extracted context small: their bytes are most of
// what the garbage collector costs a traced program.
func TestContextSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"node", unsafe.Sizeof(node{}), 40},
		{"traceInfo", unsafe.Sizeof(traceInfo{}), 64},
		{"remoteNode", unsafe.Sizeof(remoteNode{}), 104},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, more than %d", c.name, c.size, c.max)
		}
	}
}
