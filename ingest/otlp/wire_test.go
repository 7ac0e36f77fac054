package otlp

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// wireShapes are requests whose attributes take each path of the decoder's fast reading of fields and values, and
// the shapes next to them that must fall back to the general one: key and value in the other order, a value of
// two fields, lengths of 127 and 128 bytes, long varints, a double cut short, an empty value, invalid UTF-8.
func wireShapes() map[string][]byte {
	bytesF := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	varintF := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	fixedF := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), v)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	kv := func(key string, value []byte) []byte { return cat(bytesF(1, []byte(key)), bytesF(2, value)) }
	request := func(attrs ...[]byte) []byte {
		span := cat(bytesF(1, bytes.Repeat([]byte{3}, 16)), bytesF(2, []byte{1, 2, 3, 4, 5, 6, 7, 8}), bytesF(5, []byte("op")),
			fixedF(7, 1000), fixedF(8, 2000))
		for _, a := range attrs {
			span = append(span, bytesF(9, a)...)
		}
		return bytesF(1, bytesF(2, bytesF(2, span)))
	}
	str := func(s string) []byte { return bytesF(1, []byte(s)) }
	return map[string][]byte{
		"scalars": request(kv("s", str("v")), kv("i", varintF(3, 42)), kv("neg", varintF(3, math.MaxUint64)),
			kv("d", fixedF(4, math.Float64bits(2.5))), kv("t", varintF(2, 1)), kv("b2", varintF(2, 2)), kv("f", varintF(2, 0))),
		"value before key":    request(cat(bytesF(2, str("v")), bytesF(1, []byte("k")))),
		"two values":          request(cat(bytesF(1, []byte("k")), bytesF(2, str("a")), bytesF(2, varintF(3, 7)))),
		"value of two fields": request(kv("k", cat(str("a"), varintF(3, 7)))),
		"127 and 128 bytes": request(kv(strings.Repeat("k", 127), str(strings.Repeat("v", 127))),
			kv(strings.Repeat("k", 128), str(strings.Repeat("v", 128))), kv("x", str(strings.Repeat("w", 126)))),
		"empty value":       request(kv("k", nil), kv("e", str(""))),
		"no value":          request(bytesF(1, []byte("k"))),
		"double cut short":  request(kv("d", []byte{0x21, 1, 2, 3})),
		"varint cut short":  request(kv("i", []byte{0x18, 0x80})),
		"bad utf8 value":    request(kv("k", str("\xff"))),
		"bad utf8 key":      request(kv("\xfe", str("v"))),
		"length past end":   request([]byte{0x0a, 0x05, 'k'}),
		"unknown field":     request(cat(kv("k", str("v")), varintF(7, 1))),
		"wrong wire type":   request(kv("k", fixedF(3, 9))),
		"bytes value":       request(kv("k", bytesF(7, []byte{0, 0xff}))),
		"array and kvlist":  request(kv("a", bytesF(5, cat(bytesF(1, str("x")), bytesF(1, varintF(3, 1))))), kv("m", bytesF(6, bytesF(1, kv("in", str("y")))))),
		"field number zero": request(cat(kv("k", str("v")), []byte{0x02, 0x00})),
	}
}

// TestDecodeProtoShapesMatchOfficial holds the fast paths to the official decoder on every shape of wireShapes.
func TestDecodeProtoShapesMatchOfficial(t *testing.T) {
	for name, b := range wireShapes() {
		t.Run(name, func(t *testing.T) { sameAsOfficial(t, b) })
	}
}

// TestDecodeProtoMutationsMatchOfficial is a fixed-seed stand-in for the fuzzer (which manages few executions on
// a loaded machine): thousands of random corruptions of the shapes above and of a real request — bytes changed,
// inserted, removed, cut off — each decoded both ways, which must agree on the spans, the refusals and the errors.
func TestDecodeProtoMutationsMatchOfficial(t *testing.T) {
	seeds := [][]byte{realisticRequest(2)}
	for _, b := range wireShapes() {
		seeds = append(seeds, b)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 4000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		b := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for m := 1 + rng.IntN(3); m > 0 && len(b) > 0; m-- {
			at := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0:
				b[at] = byte(rng.UintN(256))
			case 1:
				b[at] ^= 1 << rng.IntN(8)
			case 2:
				b = append(b[:at], append([]byte{byte(rng.UintN(256))}, b[at:]...)...)
			case 3:
				b = append(b[:at], b[at+1:]...)
			case 4:
				b = b[:at]
			}
		}
		sameAsOfficial(t, b)
	}
}

// TestSameText compares texts of every length up to 40 with themselves, with copies differing in one byte at
// each place, and with a byte more or less.
func TestSameText(t *testing.T) {
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		s := string(b)
		if !sameText(s, b) {
			t.Fatalf("%q: not the same as itself", s)
		}
		for i := range b {
			c := slices.Clone(b)
			c[i] ^= 0x20
			if sameText(s, c) {
				t.Fatalf("%q the same as %q", s, c)
			}
		}
		if sameText(s, append(slices.Clone(b), 'x')) || (n > 0 && sameText(s, b[:n-1])) {
			t.Fatalf("%q the same as a longer or shorter text", s)
		}
	}
}

// TestValueStringsRefuseInvalidUTF8 holds valueStrings.str, which answers texts of 8 to 16 ASCII bytes without
// utf8.Valid, to utf8.Valid: texts of every length up to 24 with a byte that is not ASCII at each place, alone
// (invalid) or starting a two-byte character (valid).
func TestValueStringsRefuseInvalidUTF8(t *testing.T) {
	var v valueStrings
	for n := 1; n <= 24; n++ {
		b := bytes.Repeat([]byte{'a'}, n)
		if s, err := v.str(b); err != nil || s != string(b) {
			t.Fatalf("%q: %q, %v", b, s, err)
		}
		for i := 0; i < n; i++ {
			for _, c := range [][]byte{{0x80}, {0xff}, {0xc3, 0xa9}} {
				m := append(append(slices.Clone(b[:i]), c...), b[i:]...)[:n]
				s, err := v.str(m)
				if valid := utf8.Valid(m); (err == nil) != valid || (err == nil && s != string(m)) {
					t.Fatalf("%q: %q, %v; valid UTF-8: %v", m, s, err, valid)
				}
			}
		}
	}
}
