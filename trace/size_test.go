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
