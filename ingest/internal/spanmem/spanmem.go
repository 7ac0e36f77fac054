// Package spanmem is the memory the Datadog and Jaeger receivers decode a request's spans into: spans and
// attributes in blocks that serve the next request once the consumer has let go of the spans (ingest.Released),
// and the request's strings, which are never written again once handed over, since a consumer may keep any string
// for good. It is the scheme of ingest/otlp's wire decoder (blockList, valueStrings), for decoders that append a
// span's attributes one by one rather than decode them in place.
package spanmem

import (
	"encoding/binary"
	"unsafe"
)

// Blocks hands out the memory of one kind of element of a request in blocks of Size elements. A request's blocks
// live and die together (a request is taken whole); one large block costs the allocator and the garbage collector
// less than a slice per span.
type Blocks[T any] struct {
	Size int   // elements in a block
	cur  []T   // the block being filled: len is what is taken
	full [][]T // the request's earlier blocks
	free [][]T // zeroed blocks, from requests before whose consumer let go of them
}

// maxFree is how many free blocks of each kind an idle decoder keeps.
const maxFree = 64

// grow starts a new block, a free one if there is one.
func (l *Blocks[T]) grow() {
	if l.cur != nil {
		l.full = append(l.full, l.cur)
	}
	if n := len(l.free); n > 0 {
		l.cur = l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		return
	}
	l.cur = make([]T, 0, l.Size)
}

// New gives a pointer to a zero element.
func (l *Blocks[T]) New() *T {
	if len(l.cur) == cap(l.cur) {
		l.grow()
	}
	l.cur = l.cur[:len(l.cur)+1]
	return &l.cur[len(l.cur)-1]
}

// Len is the current block's length: the mark at which the next element appended starts.
func (l *Blocks[T]) Len() int { return len(l.cur) }

// Append appends x to the elements taken from mark on, and returns their mark, which changes when they move with x
// to a new block because the current one is full. (The copies they leave behind are cleared with the block.)
func (l *Blocks[T]) Append(mark int, x T) int {
	if len(l.cur) == cap(l.cur) {
		return l.appendMoving(mark, x)
	}
	l.cur = append(l.cur, x)
	return mark
}

// appendMoving is Append when the current block is full.
func (l *Blocks[T]) appendMoving(mark int, x T) int {
	moved := l.cur[mark:]
	if len(moved) < l.Size {
		l.grow()
	} else { // a block would not hold them: a slice of their own, which Reset will not keep
		l.full = append(l.full, l.cur)
		l.cur = make([]T, 0, 2*len(moved))
	}
	l.cur = append(l.cur, moved...)
	l.cur = append(l.cur, x)
	return 0
}

// Next is Append of a zero element, given to be filled in place.
func (l *Blocks[T]) Next(mark int) (int, *T) {
	var zero T
	mark = l.Append(mark, zero)
	return mark, &l.cur[len(l.cur)-1]
}

// Since is the elements from mark on (a span's, appended since its mark), with their capacity ended at their
// length, so that a later append (ExtractCausality, Normalize) copies rather than writes over the next span's; nil
// when there are none.
func (l *Blocks[T]) Since(mark int) []T {
	if mark == len(l.cur) {
		return nil
	}
	return l.cur[mark:len(l.cur):len(l.cur)]
}

// Truncate drops the elements from n on, to be appended again. (They are cleared with the block.)
func (l *Blocks[T]) Truncate(n int) { l.cur = l.cur[:n] }

// Reset ends a request. With reuse (the consumer let go of the spans), the request's blocks are zeroed, up to their
// capacity, since Truncate may have left elements past the length, and kept, up to maxFree; otherwise they are left
// to whoever holds the spans.
func (l *Blocks[T]) Reset(reuse bool) {
	if l.cur != nil {
		l.full = append(l.full, l.cur)
	}
	for _, b := range l.full {
		if reuse && cap(b) == l.Size && len(l.free) < maxFree {
			clear(b[:cap(b)]) // the elements, and through them what they point at
			l.free = append(l.free, b[:0])
		}
	}
	clear(l.full)
	l.full = l.full[:0]
	l.cur = nil
}

// Free is the number of free blocks kept, and whether they are all empty and zero (for tests).
func (l *Blocks[T]) Free(isZero func(*T) bool) (n int, zero bool) {
	for _, b := range l.free {
		if len(b) != 0 {
			return len(l.free), false
		}
		for i := range b[:cap(b)] {
			if !isZero(&b[:cap(b)][i]) {
				return len(l.free), false
			}
		}
	}
	return len(l.free), true
}

// Strings makes the strings of a decoder's requests out of the bytes of their bodies, which are not kept. Keys
// (attribute keys, services, names, types) go through an intern map that outlives a request, so that a key is made
// once per decoder rather than once per span or request; values are copied into large byte blocks instead of one
// allocation each, with a direct-mapped cache that shares the ones that repeat. No string it has made is ever
// written again, not even when the decoder's span memory is reused: a consumer may keep any string it was handed.
type Strings struct {
	intern      map[string]string
	internBytes int
	keys        [slots]string // a direct-mapped cache in front of intern, which needs no hashing of the whole string
	values      [slots]string
	block       []byte // len is what is taken
}

const (
	valueBlock   = 32 << 10
	maxBlockCopy = 1 << 10 // longer values get an allocation of their own
	// The intern map outlives a request; past these bounds it starts again empty at the next request.
	maxIntern      = 4096
	maxInternBytes = 256 << 10
	// slotBits sizes the direct-mapped caches: a request holds a couple of thousand values that occur once
	// besides the few dozen that repeat; with too few slots the former keep evicting the latter.
	slotBits = 10
	slots    = 1 << slotBits
)

// slotOf is the cache slot of b (not empty): a multiplicative hash of its length and its first and last eight
// bytes (or three bytes of a shorter one), cheap next to a map lookup, and good enough because a collision only
// costs a lookup or a copy.
func slotOf(b []byte) uint {
	n := len(b)
	var x uint64
	if n >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[n-8:])*0x9e3779b97f4a7c15
	} else {
		x = uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
	}
	x ^= uint64(n) << 56
	return uint((x * 0xff51afd7ed558ccd) >> (64 - slotBits))
}

// sameText reports whether s holds the bytes of b; texts of 8 to 16 bytes are compared inline, as two overlapping
// 8-byte words.
func sameText(s string, b []byte) bool {
	n := len(b)
	if len(s) != n {
		return false
	}
	if n < 8 || n > 16 {
		return s == string(b)
	}
	t := unsafe.Slice(unsafe.StringData(s), n)
	return binary.LittleEndian.Uint64(t) == binary.LittleEndian.Uint64(b) &&
		binary.LittleEndian.Uint64(t[n-8:]) == binary.LittleEndian.Uint64(b[n-8:])
}

// Key gives b as a string shared with every other key of the same text the decoder made since the intern map was
// last emptied.
func (s *Strings) Key(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	slot := &s.keys[slotOf(b)]
	if sameText(*slot, b) {
		return *slot
	}
	if k, ok := s.intern[string(b)]; ok {
		*slot = k
		return k
	}
	k := string(b)
	if s.intern == nil {
		s.intern = make(map[string]string, 64)
	}
	if len(s.intern) < maxIntern {
		s.intern[k] = k
		s.internBytes += len(k)
		*slot = k
	}
	return k
}

// Value gives b as a string, copied into the current value block (unless it is long, or repeats one still in the
// cache).
func (s *Strings) Value(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	slot := &s.values[slotOf(b)]
	if sameText(*slot, b) {
		return *slot
	}
	if len(b) > maxBlockCopy {
		return string(b)
	}
	if cap(s.block)-len(s.block) < len(b) {
		s.block = make([]byte, 0, valueBlock)
	}
	start := len(s.block)
	s.block = append(s.block, b...)
	// The bytes are never written again: the block only grows past them, and a new block replaces it when full.
	v := unsafe.String(&s.block[start], len(b))
	*slot = v
	return v
}

// EndRequest ends a request: the intern map starts again empty if it outgrew its bounds, and the values are
// dropped from their cache, so that an idle decoder keeps at most one value block alive.
func (s *Strings) EndRequest() {
	if len(s.intern) >= maxIntern || s.internBytes >= maxInternBytes {
		clear(s.intern)
		s.keys = [slots]string{}
		s.internBytes = 0
	}
	s.values = [slots]string{}
}
