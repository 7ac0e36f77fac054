package propagation

import (
	"encoding/binary"

	"github.com/weftrace/weft/trace/internal/hexword"
)

// Hex and decimal helpers shared by the formats. They work on strings in place so that parsing a header costs
// no allocation.

const hexDigits = "0123456789abcdef"

// hexLower and hexAny map a byte to its value as a hex digit, or 0xff: hexLower accepts only 0-9 and a-f, as
// W3C and B3 require; hexAny also A-F.
var hexLower, hexAny = func() (lower, any [256]byte) {
	for i := range lower {
		lower[i], any[i] = 0xff, 0xff
	}
	for c := '0'; c <= '9'; c++ {
		lower[c], any[c] = byte(c-'0'), byte(c-'0')
	}
	for c := 'a'; c <= 'f'; c++ {
		lower[c], any[c] = byte(c-'a'+10), byte(c-'a'+10)
		any[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return lower, any
}()

// hexVal maps a byte to its value as a hex digit; lowerOnly rejects A-F.
func hexVal(c byte, lowerOnly bool) (byte, bool) {
	v := hexAny[c]
	if lowerOnly {
		v = hexLower[c]
	}
	return v, v != 0xff
}

// decodeHex fills dst from exactly 2*len(dst) hex digits.
func decodeHex(dst []byte, s string, lowerOnly bool) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	table := &hexAny
	if lowerOnly {
		table = &hexLower
	}
	bad := byte(0)
	for i := range dst {
		hi, lo := table[s[2*i]], table[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// decodeHexPadded fills dst from 1 to 2*len(dst) hex digits, right-aligned (left-padded with zeroes), as Jaeger
// writes IDs without their leading zeroes.
func decodeHexPadded(dst []byte, s string, lowerOnly bool) bool {
	if len(s) == 0 || len(s) > 2*len(dst) {
		return false
	}
	clear(dst)
	// Walk from the last digit backwards, two digits per byte.
	for i := 0; i < len(s); i++ {
		v, ok := hexVal(s[len(s)-1-i], lowerOnly)
		if !ok {
			return false
		}
		dst[len(dst)-1-i/2] |= v << (4 * (i % 2))
	}
	return true
}

// putHex writes the lowercase hex form of src, a multiple of 4 bytes long, to dst (twice as long).
func putHex(dst, src []byte) {
	for i := 0; i+4 <= len(src); i += 4 {
		binary.LittleEndian.PutUint64(dst[2*i:], hexword.Of(binary.BigEndian.Uint32(src[i:])))
	}
}

// appendHex appends the lowercase hex form of src.
func appendHex(b []byte, src []byte) []byte {
	for _, c := range src {
		b = append(b, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return b
}

// appendHex64 appends v as 16 lowercase hex digits.
func appendHex64(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(v>>uint(shift))&0x0f])
	}
	return b
}

// parseHex64 parses exactly 16 lowercase hex digits.
func parseHex64(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	var v uint64
	bad := byte(0)
	for i := 0; i < 16; i++ {
		d := hexLower[s[i]]
		bad |= d
		v = v<<4 | uint64(d&0x0f)
	}
	return v, bad&0xf0 == 0
}

// parseUint parses a decimal number of at most 20 digits that fits in 64 bits, with no sign and no leading '+'.
func parseUint(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseInt8 parses a small signed decimal number (a sampling priority).
func parseInt8(s string) (int8, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	u, ok := parseUint(s)
	if !ok || u > 127 {
		return 0, false
	}
	if neg {
		return -int8(u), true
	}
	return int8(u), true
}

// trimOWS removes the optional white space (spaces and tabs) that HTTP allows around a header value.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func beUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func putBEUint64(b []byte, v uint64) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32)
	b[4], b[5], b[6], b[7] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// load64 reads the first 8 bytes of s as a little-endian word: s[0] in the lowest byte.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

const (
	bytes1 = 0x0101010101010101 // 1 in every byte of a word
	bytes7 = 0x8080808080808080 // every byte's high bit
)

// hexWord8 decodes eight lowercase hex digits, loaded as a little-endian word (the first digit in the lowest
// byte), into the bytes they spell, in order as the bytes of a little-endian 32-bit word
// (binary.LittleEndian.PutUint32 writes them in order), and reports whether all eight were 0-9 or a-f: a few
// adds and masks over the whole word instead of eight table lookups.
func hexWord8(x uint64) (uint32, bool) {
	// For a byte c below 0x80, c+k carries into its high bit exactly when c >= 0x80-k, and no byte carries into
	// the next; a byte at or above 0x80 fails the check on its own.
	digit := (x + 0x50*bytes1) &^ (x + 0x46*bytes1)  // '0' <= c <= '9'
	letter := (x + 0x1f*bytes1) &^ (x + 0x19*bytes1) // 'a' <= c <= 'f'
	ok := (digit|letter)&bytes7 == bytes7 && x&bytes7 == 0
	n := x&(0x0f*bytes1) + (letter&bytes7)>>7*9 // each byte's digit value: 'a' is 0x61, 1+9 = 10
	n = (n<<4 | n>>8) & 0x00ff00ff00ff00ff      // byte 2k: digit 2k, digit 2k+1
	n = (n | n>>8) & 0x0000ffff0000ffff
	n = (n | n>>16) & 0xffffffff
	return uint32(n), ok
}
