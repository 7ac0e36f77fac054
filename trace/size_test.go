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

// TestSpanLayout keeps what every start and end writes within the first seven cache lines of a span, the ones
// prefetchSpan fetches.
func TestSpanLayout(t *testing.T) {
	if end := unsafe.Offsetof(Span{}.attrBuf); end > 7*64 {
		t.Errorf("a span's fields before attrBuf end at %d bytes, beyond the 448 that prefetchSpan fetches", end)
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
