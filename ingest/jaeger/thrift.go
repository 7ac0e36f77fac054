package jaeger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Thrift type codes as the binary protocol writes them; the compact protocol's codes are mapped onto these.
const (
	tStop   = 0
	tBool   = 2
	tByte   = 3
	tDouble = 4
	tI16    = 6
	tI32    = 8
	tI64    = 10
	tString = 11
	tStruct = 12
	tMap    = 13
	tSet    = 14
	tList   = 15
)

// maxDepth bounds the nesting of structs and containers that skip follows, so that a hostile payload cannot
// exhaust the stack.
const maxDepth = 32

var errTruncated = errors.New("payload ends early (truncated thrift)")

// reader reads thrift values of the binary or compact protocol from a body held in memory. Strings come back as
// slices of the body; every length and count is checked against the bytes left before it is used, so a hostile
// prefix allocates nothing.
type reader struct {
	b       []byte
	pos     int
	compact bool

	// compact protocol state: the last field ID of each open struct, and a bool field's value, which the compact
	// protocol carries in the field header.
	lastID  []int16
	boolVal bool
}

func (r *reader) left() int { return len(r.b) - r.pos }

func (r *reader) need(n int) error {
	if n < 0 || n > r.left() {
		return errTruncated
	}
	return nil
}

func (r *reader) byte1() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// uvarint reads a compact-protocol varint of up to 64 bits.
func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, errTruncated
		}
		return 0, errors.New("varint overflows 64 bits")
	}
	r.pos += n
	return v, nil
}

func (r *reader) zigzag() (int64, error) {
	u, err := r.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

// structBegin and structEnd bracket the fields of a struct (the compact protocol numbers fields relative to the
// previous one in the same struct).
func (r *reader) structBegin() {
	if r.compact {
		r.lastID = append(r.lastID, 0)
	}
}

func (r *reader) structEnd() {
	if r.compact {
		r.lastID = r.lastID[:len(r.lastID)-1]
	}
}

// compactTypes maps the compact protocol's type codes to the binary protocol's.
var compactTypes = [16]byte{
	0: tStop, 1: tBool, 2: tBool, 3: tByte, 4: tI16, 5: tI32, 6: tI64, 7: tDouble,
	8: tString, 9: tList, 10: tSet, 11: tMap, 12: tStruct, 13: 0xff, 14: 0xff, 15: 0xff,
}

// field reads a field header: its type (tStop at the end of the struct) and ID.
func (r *reader) field() (typ byte, id int16, err error) {
	c, err := r.byte1()
	if err != nil {
		return 0, 0, err
	}
	if !r.compact {
		if c == tStop {
			return tStop, 0, nil
		}
		if err := r.need(2); err != nil {
			return 0, 0, err
		}
		id = int16(binary.BigEndian.Uint16(r.b[r.pos:]))
		r.pos += 2
		return c, id, nil
	}
	if c == 0 {
		return tStop, 0, nil
	}
	ct := c & 0x0f
	typ = compactTypes[ct]
	if typ == 0xff {
		return 0, 0, fmt.Errorf("unknown compact type %d", ct)
	}
	last := &r.lastID[len(r.lastID)-1]
	if delta := c >> 4; delta != 0 {
		id = *last + int16(delta)
	} else {
		v, err := r.zigzag()
		if err != nil {
			return 0, 0, err
		}
		id = int16(v)
	}
	*last = id
	if typ == tBool {
		r.boolVal = ct == 1
	}
	return typ, id, nil
}

// boolField reads a bool field's value (the compact protocol already had it in the header).
func (r *reader) boolField() (bool, error) {
	if r.compact {
		return r.boolVal, nil
	}
	c, err := r.byte1()
	return c != 0, err
}

func (r *reader) i32() (int32, error) {
	if r.compact {
		v, err := r.zigzag()
		if err == nil && (v > math.MaxInt32 || v < math.MinInt32) {
			err = fmt.Errorf("i32 value %d out of range", v)
		}
		return int32(v), err
	}
	if err := r.need(4); err != nil {
		return 0, err
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.pos:]))
	r.pos += 4
	return v, nil
}

func (r *reader) i64() (int64, error) {
	if r.compact {
		return r.zigzag()
	}
	if err := r.need(8); err != nil {
		return 0, err
	}
	v := int64(binary.BigEndian.Uint64(r.b[r.pos:]))
	r.pos += 8
	return v, nil
}

func (r *reader) double() (float64, error) {
	if err := r.need(8); err != nil {
		return 0, err
	}
	var bits uint64
	if r.compact {
		bits = binary.LittleEndian.Uint64(r.b[r.pos:])
	} else {
		bits = binary.BigEndian.Uint64(r.b[r.pos:])
	}
	r.pos += 8
	return math.Float64frombits(bits), nil
}

// binary reads a string or binary value as a slice of the body.
func (r *reader) binary() ([]byte, error) {
	var n int
	if r.compact {
		u, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		if u > uint64(r.left()) {
			return nil, fmt.Errorf("string length %d exceeds the %d bytes left (truncated or corrupt)", u, r.left())
		}
		n = int(u)
	} else {
		if err := r.need(4); err != nil {
			return nil, err
		}
		l := int32(binary.BigEndian.Uint32(r.b[r.pos:]))
		r.pos += 4
		if l < 0 {
			return nil, fmt.Errorf("string length %d is negative", l)
		}
		if int(l) > r.left() {
			return nil, fmt.Errorf("string length %d exceeds the %d bytes left (truncated or corrupt)", l, r.left())
		}
		n = int(l)
	}
	s := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return s, nil
}

// minSize is the fewest bytes an element of a type takes, which bounds a container's count by the bytes left.
func (r *reader) minSize(typ byte) int {
	if r.compact {
		if typ == tDouble {
			return 8
		}
		return 1
	}
	switch typ {
	case tI16:
		return 2
	case tI32, tString, tMap:
		return 4
	case tI64, tDouble:
		return 8
	case tList, tSet:
		return 5
	}
	return 1
}

// list reads a list or set header: the element type and the count, checked against the bytes left.
func (r *reader) list() (elem byte, n int, err error) {
	if r.compact {
		c, err := r.byte1()
		if err != nil {
			return 0, 0, err
		}
		elem = compactTypes[c&0x0f]
		if elem == 0xff || elem == tStop {
			return 0, 0, fmt.Errorf("unknown compact element type %d", c&0x0f)
		}
		n = int(c >> 4)
		if n == 15 {
			u, err := r.uvarint()
			if err != nil {
				return 0, 0, err
			}
			if u > uint64(r.left()) {
				return 0, 0, fmt.Errorf("list length %d exceeds the %d bytes left (truncated or corrupt)", u, r.left())
			}
			n = int(u)
		}
	} else {
		if err := r.need(5); err != nil {
			return 0, 0, err
		}
		elem = r.b[r.pos]
		l := int32(binary.BigEndian.Uint32(r.b[r.pos+1:]))
		r.pos += 5
		if l < 0 {
			return 0, 0, fmt.Errorf("list length %d is negative", l)
		}
		n = int(l)
	}
	if n > r.left()/r.minSize(elem) {
		return 0, 0, fmt.Errorf("list length %d exceeds the %d bytes left (truncated or corrupt)", n, r.left())
	}
	return elem, n, nil
}

// mapHeader reads a map header: key and value types and the count, checked against the bytes left.
func (r *reader) mapHeader() (kt, vt byte, n int, err error) {
	if r.compact {
		u, err := r.uvarint()
		if err != nil {
			return 0, 0, 0, err
		}
		if u == 0 {
			return 0, 0, 0, nil
		}
		if u > uint64(r.left()) {
			return 0, 0, 0, fmt.Errorf("map length %d exceeds the %d bytes left (truncated or corrupt)", u, r.left())
		}
		c, err := r.byte1()
		if err != nil {
			return 0, 0, 0, err
		}
		kt, vt = compactTypes[c>>4], compactTypes[c&0x0f]
		if kt == 0xff || vt == 0xff {
			return 0, 0, 0, errors.New("unknown compact map types")
		}
		n = int(u)
	} else {
		if err := r.need(6); err != nil {
			return 0, 0, 0, err
		}
		kt, vt = r.b[r.pos], r.b[r.pos+1]
		l := int32(binary.BigEndian.Uint32(r.b[r.pos+2:]))
		r.pos += 6
		if l < 0 {
			return 0, 0, 0, fmt.Errorf("map length %d is negative", l)
		}
		n = int(l)
	}
	if n > r.left()/(r.minSize(kt)+r.minSize(vt)) {
		return 0, 0, 0, fmt.Errorf("map length %d exceeds the %d bytes left (truncated or corrupt)", n, r.left())
	}
	return kt, vt, n, nil
}

// skipField passes over the value of a field weft does not read. A bool field of the compact protocol has its
// value in the field header, so there is nothing left to skip.
func (r *reader) skipField(typ byte, depth int) error {
	if r.compact && typ == tBool {
		return nil
	}
	return r.skip(typ, depth)
}

// skip passes over a value of type typ.
func (r *reader) skip(typ byte, depth int) error {
	if depth > maxDepth {
		return errors.New("values nested too deep")
	}
	switch typ {
	case tBool, tByte: // a bool element of a container takes one byte in both protocols

		_, err := r.byte1()
		return err
	case tI16:
		if r.compact {
			_, err := r.uvarint()
			return err
		}
		return r.advance(2)
	case tI32:
		if r.compact {
			_, err := r.uvarint()
			return err
		}
		return r.advance(4)
	case tI64:
		if r.compact {
			_, err := r.uvarint()
			return err
		}
		return r.advance(8)
	case tDouble:
		return r.advance(8)
	case tString:
		_, err := r.binary()
		return err
	case tStruct:
		r.structBegin()
		defer r.structEnd()
		for {
			ft, _, err := r.field()
			if err != nil {
				return err
			}
			if ft == tStop {
				return nil
			}
			if err := r.skipField(ft, depth+1); err != nil {
				return err
			}
		}
	case tList, tSet:
		elem, n, err := r.list()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(elem, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tMap:
		kt, vt, n, err := r.mapHeader()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(kt, depth+1); err != nil {
				return err
			}
			if err := r.skip(vt, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

func (r *reader) advance(n int) error {
	if err := r.need(n); err != nil {
		return err
	}
	r.pos += n
	return nil
}
