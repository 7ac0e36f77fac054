// Package hexword writes lowercase hex digits eight at a time, for the IDs the library puts in headers and
// attributes (trace/propagation's traceparent, trace's execution units).
package hexword

import "math/bits"

// Of returns the 8 lowercase hex digits of x, most significant first, as the bytes of a little-endian word
// (binary.LittleEndian.PutUint64 writes them in order): a few shifts and adds instead of 8 table lookups.
func Of(x uint32) uint64 {
	v := uint64(bits.ReverseBytes32(x)) // x's first byte lowest: it is written first
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff // byte k of x in the low byte of 16-bit lane k
	n := (v>>4)&0x000f000f000f000f | (v&0x000f000f000f000f)<<8
	letters := (n + 0x0606060606060606) >> 4 & 0x0101010101010101 // 1 in each byte that is 10 or more
	return n + 0x3030303030303030 + letters*('a'-'0'-10)
}
