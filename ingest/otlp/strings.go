package otlp

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// valueStrings makes the string attribute values of one request. Values that repeat (methods, regions, status
// texts) are shared through a small direct-mapped cache; the rest are copied into large byte blocks instead of
// one allocation each, since a request's spans are stored and dropped together (a block lives as long as any
// string in it). Keys, names and service names are not made here: they go through the decoder's intern map as
// strings of their own, because the store may keep them for longer than the request's spans. Neither kind is ever
// written again, not even when the decoder reuses the memory of a released request's spans for the next one
// (ingest.ReleasingBatch): a consumer may keep any string it was handed.
type valueStrings struct {
	recent [recentSlots]string
	block  []byte // len is what is taken
}

const (
	valueBlock   = 32 << 10
	maxBlockCopy = 1 << 10 // longer values get an allocation of their own
)

// recentSlots is the size of the direct-mapped string caches. A request of 1,000 spans holds a couple of thousand
// values that occur once (user ids, addresses) besides the few dozen that repeat; with too few slots the former
// keep evicting the latter, which are then copied again (and the log's encoder, which finds strings by their
// address first, then looks each copy up by its text).
const (
	recentBits  = 10
	recentSlots = 1 << recentBits
)

// slotOf is the cache slot of b (not empty): a multiplicative hash of its length and its first and last eight
// bytes (or three bytes of a shorter one), cheap next to a map lookup, and good enough because a collision only
// costs a copy.
func slotOf(b []byte) uint {
	n := len(b)
	var x uint64
	if n >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[n-8:])*0x9e3779b97f4a7c15
	} else {
		x = uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
	}
	x ^= uint64(n) << 56
	return uint((x * 0xff51afd7ed558ccd) >> (64 - recentBits))
}

// str gives b as a string, refusing invalid UTF-8 as the official decoder does.
func (v *valueStrings) str(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	slot := &v.recent[slotOf(b)]
	if sameText(*slot, b) {
		return *slot, nil
	}
	// utf8.Valid, but for 8 to 16 bytes of ASCII (most values that occur once: ids, addresses), answered here.
	if n := len(b); n < 8 || n > 16 ||
		(binary.LittleEndian.Uint64(b)|binary.LittleEndian.Uint64(b[n-8:]))&0x8080808080808080 != 0 {
		if !utf8.Valid(b) {
			return "", errUTF8
		}
	}
	if len(b) > maxBlockCopy {
		return string(b), nil
	}
	if cap(v.block)-len(v.block) < len(b) {
		v.block = make([]byte, 0, valueBlock)
	}
	start := len(v.block)
	v.block = append(v.block, b...)
	// The bytes are never written again: the block only grows past them, and a new block replaces it when full.
	s := unsafe.String(&v.block[start], len(b))
	*slot = s
	return s, nil
}

// sameText reports whether s holds the bytes of b. Texts of 8 to 16 bytes (many keys and values) are compared
// inline, as two overlapping 8-byte words; the rest as strings, through a call.
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
