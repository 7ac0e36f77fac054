package otlp

import "math"

// Protocol buffers wire format, just what OTLP's trace messages need. Nested messages are written with a
// one-byte length placeholder that is widened in place when the message turns out longer than 127 bytes, so the
// encoder makes one pass over the spans and never sizes a message twice.

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendTag(b []byte, field, wire int) []byte {
	return appendVarint(b, uint64(field)<<3|uint64(wire))
}

func appendUvarintField(b []byte, field int, v uint64) []byte {
	return appendVarint(appendTag(b, field, wireVarint), v)
}

func appendStringField(b []byte, field int, s string) []byte {
	b = appendTag(b, field, wireBytes)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytesField(b []byte, field int, p []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = appendVarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendFixed64Field(b []byte, field int, v uint64) []byte {
	b = appendTag(b, field, wireFixed64)
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

func appendFixed32Field(b []byte, field int, v uint32) []byte {
	b = appendTag(b, field, wireFixed32)
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func appendDoubleField(b []byte, field int, f float64) []byte {
	return appendFixed64Field(b, field, math.Float64bits(f))
}

// beginMessage writes field's tag and a one-byte length placeholder, and returns where the placeholder is.
func beginMessage(b []byte, field int) ([]byte, int) {
	b = appendTag(b, field, wireBytes)
	return append(b, 0), len(b)
}

// endMessage fills in the length of the message begun at mark, widening the placeholder if needed.
func endMessage(b []byte, mark int) []byte {
	n := len(b) - mark - 1
	if n < 0x80 {
		b[mark] = byte(n)
		return b
	}
	extra := varintLen(uint64(n)) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[mark+1+extra:], b[mark+1:len(b)-extra])
	appendVarint(b[mark:mark], uint64(n))
	return b
}
