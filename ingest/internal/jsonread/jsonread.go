// Package jsonread is the small JSON reader the receivers' fast paths share (Zipkin v2 JSON, OTLP JSON): it reads
// the JSON that clients commonly write straight from the body, without reflection or an intermediate tree, and
// says "not mine" (false) for everything else — \u escapes, invalid UTF-8, null, a key seen twice — so that the
// receiver can hand the body to encoding/json, whose answer stays the reference. It sits inside ingest, under the
// receivers that use it.
package jsonread

import "unicode/utf8"

// Reader reads JSON from B; B[I:] is what is left. Every method reports false for what it does not take; after a
// false, the Reader's position is meaningless.
type Reader struct {
	B   []byte
	I   int
	buf []byte // unescaped strings
}

// WS skips white space.
func (r *Reader) WS() {
	for r.I < len(r.B) {
		switch r.B[r.I] {
		case ' ', '\t', '\n', '\r':
			r.I++
		default:
			return
		}
	}
}

// Byte takes c if it is next.
func (r *Reader) Byte(c byte) bool {
	if r.I < len(r.B) && r.B[r.I] == c {
		r.I++
		return true
	}
	return false
}

// Peek is the next byte, 0 at the end.
func (r *Reader) Peek() byte {
	if r.I < len(r.B) {
		return r.B[r.I]
	}
	return 0
}

// End reports whether nothing but white space is left.
func (r *Reader) End() bool {
	r.WS()
	return r.I == len(r.B)
}

// Literal takes word (true, false) if it is next.
func (r *Reader) Literal(word string) bool {
	if len(r.B)-r.I >= len(word) && string(r.B[r.I:r.I+len(word)]) == word {
		r.I += len(word)
		return true
	}
	return false
}

// Bool reads true or false.
func (r *Reader) Bool() (v, ok bool) {
	switch {
	case r.Literal("true"):
		return true, true
	case r.Literal("false"):
		return false, true
	}
	return false, false
}

// String reads a string in valid UTF-8, undoing the one-character escapes (\u escapes are refused). The bytes are
// the body's when inBody, else the Reader's own, valid until the next call.
func (r *Reader) String() (s []byte, inBody, ok bool) {
	if !r.Byte('"') {
		return nil, false, false
	}
	start := r.I
	for r.I < len(r.B) {
		c := r.B[r.I]
		switch {
		case c == '"':
			s = r.B[start:r.I]
			r.I++
			return s, true, utf8.Valid(s)
		case c == '\\':
			s, ok = r.escaped(start)
			return s, false, ok
		case c < 0x20:
			return nil, false, false
		}
		r.I++
	}
	return nil, false, false
}

// escaped finishes a string that has escapes, from its first byte at start.
func (r *Reader) escaped(start int) ([]byte, bool) {
	r.buf = append(r.buf[:0], r.B[start:r.I]...)
	for r.I < len(r.B) {
		c := r.B[r.I]
		switch {
		case c == '"':
			r.I++
			return r.buf, utf8.Valid(r.buf)
		case c < 0x20:
			return nil, false
		case c != '\\':
			r.buf = append(r.buf, c)
			r.I++
			continue
		}
		if r.I+1 >= len(r.B) {
			return nil, false
		}
		var e byte
		switch r.B[r.I+1] {
		case '"', '\\', '/':
			e = r.B[r.I+1]
		case 'b':
			e = '\b'
		case 'f':
			e = '\f'
		case 'n':
			e = '\n'
		case 'r':
			e = '\r'
		case 't':
			e = '\t'
		default: // \u and anything invalid
			return nil, false
		}
		r.buf = append(r.buf, e)
		r.I += 2
	}
	return nil, false
}

// Number reads a number as JSON writes it and gives its text, which is the body's.
func (r *Reader) Number() ([]byte, bool) {
	start := r.I
	r.Byte('-')
	switch {
	case r.Byte('0'):
	case r.I < len(r.B) && r.B[r.I] >= '1' && r.B[r.I] <= '9':
		r.digits()
	default:
		return nil, false
	}
	if r.Byte('.') && !r.digits() {
		return nil, false
	}
	if r.I < len(r.B) && (r.B[r.I] == 'e' || r.B[r.I] == 'E') {
		r.I++
		if !r.Byte('+') {
			r.Byte('-')
		}
		if !r.digits() {
			return nil, false
		}
	}
	return r.B[start:r.I], true
}

// digits takes a run of at least one digit.
func (r *Reader) digits() bool {
	start := r.I
	for r.I < len(r.B) && r.B[r.I] >= '0' && r.B[r.I] <= '9' {
		r.I++
	}
	return r.I > start
}

// Object reads an object whose keys are field names, calling field with the reader at each value (white space
// around it is taken here). Keys with escapes, and a key seen twice (which encoding/json merges or overwrites
// depending on the field), are refused; so is an object of more than 24 keys.
func (r *Reader) Object(field func(key []byte) bool) bool {
	var seen [24][]byte
	n := 0
	return r.members(func(key []byte, inBody bool) bool {
		if !inBody || n == len(seen) {
			return false
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				return false
			}
		}
		seen[n] = key
		n++
		return field(key)
	})
}

// Array reads an array, calling elem with the reader at each element (white space around it is taken here).
func (r *Reader) Array(elem func() bool) bool {
	r.WS()
	if !r.Byte('[') {
		return false
	}
	r.WS()
	if r.Byte(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		r.WS()
		if r.Byte(']') {
			return true
		}
		if !r.Byte(',') {
			return false
		}
		r.WS()
	}
}

// Members reads an object whose keys are data (tags, maps): any number of them, repeats allowed, keys with
// escapes too. member is called with the reader at the value; key may be the Reader's own bytes, which the next
// String overwrites, so member must take what it keeps of key before reading the value.
func (r *Reader) Members(member func(key []byte) bool) bool {
	return r.members(func(key []byte, _ bool) bool { return member(key) })
}

// members reads an object, calling member with each key, whether the key lies unescaped in the input (inBody),
// and the reader at the value.
func (r *Reader) members(member func(key []byte, inBody bool) bool) bool {
	r.WS()
	if !r.Byte('{') {
		return false
	}
	r.WS()
	if r.Byte('}') {
		return true
	}
	for {
		key, inBody, ok := r.String()
		if !ok {
			return false
		}
		r.WS()
		if !r.Byte(':') {
			return false
		}
		r.WS()
		if !member(key, inBody) {
			return false
		}
		r.WS()
		if r.Byte('}') {
			return true
		}
		if !r.Byte(',') {
			return false
		}
		r.WS()
	}
}
