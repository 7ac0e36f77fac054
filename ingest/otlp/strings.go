package otlp

import (
	"unicode/utf8"
	"unsafe"
)

// valueStrings makes the string attribute values of one request. Values that repeat (methods, regions, status
// texts) are shared through a small direct-mapped cache; the rest are copied into large byte blocks instead of
// one allocation each, since a request's spans are stored and dropped together (a block lives as long as any
// string in it). Keys, names and service names are not made here: they go through the decoder's intern map as
// strings of their own, because the store may keep them for longer than the request's spans.
type valueStrings struct {
	recent [256]string
	block  []byte // len is what is taken
}

const (
	valueBlock   = 32 << 10
	maxBlockCopy = 1 << 10 // longer values get an allocation of their own
)

// slotOf is the cache slot of b (not empty): a hash of its length and three of its bytes, cheap next to a map
// lookup, and good enough because a collision only costs a copy.
func slotOf(b []byte) uint8 {
	return uint8(uint(len(b))*31 + uint(b[0])*7 + uint(b[len(b)-1])*3 + uint(b[len(b)/2]))
}

// str gives b as a string, refusing invalid UTF-8 as the official decoder does.
func (v *valueStrings) str(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	slot := &v.recent[slotOf(b)]
	if *slot == string(b) {
		return *slot, nil
	}
	if !utf8.Valid(b) {
		return "", errUTF8
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
