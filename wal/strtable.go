package wal

import "encoding/binary"

// EachString calls f with each string of an encoded batch's own string table (see the codec's layout in
// codec.go), in table order, until f returns false, without decoding anything else or allocating. The bytes
// passed to f are the batch's own and valid only during the call. Every name, service, attribute key and string
// value of the batch's spans, events and links is in the table unless the batch was encoded against a shared
// dictionary (Encoder.Shared), whose strings are not in it. It reports false when the table is malformed.
func EachString(batch []byte, f func(s []byte) bool) bool {
	n, k := binary.Uvarint(batch)
	if k <= 0 || n > uint64(len(batch)) {
		return false
	}
	b := batch[k:]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return false
		}
		if !f(b[k : k+int(l)]) {
			return true
		}
		b = b[k+int(l):]
	}
	return true
}
