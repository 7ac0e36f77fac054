package datadog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/weftrace/weft/ingest/internal/spanmem"
	"github.com/weftrace/weft/model"
)

// reader reads msgpack values out of one request body held in memory, by hand rather than through a general
// decoder (whose reads through io interfaces were about half of decoding). It takes strings straight from the body
// and makes them through the builder's spanmem.Strings: keys (meta keys, services, names, types) interned across
// requests, values copied into blocks, so that nothing decoded refers to the body. Every length prefix is checked
// against the bytes left before anything is allocated for it, so a hostile prefix costs nothing. A value of the
// wrong type fails with "want ..., got ..."; a body that ends inside a value fails with io.ErrUnexpectedEOF (io.EOF
// at the start of one), which wrapEOF words for the client.
type reader struct {
	b    []byte // the body
	pos  int    // the next byte to read
	strs *spanmem.Strings
}

// reset starts reading body (nil when the request is done, so that the pooled reader does not keep it).
func (m *reader) reset(body []byte) { m.b, m.pos = body, 0 }

func (m *reader) left() int { return len(m.b) - m.pos }

// code reads the type byte that starts a value.
func (m *reader) code() (byte, error) {
	if m.pos >= len(m.b) {
		return 0, io.EOF
	}
	c := m.b[m.pos]
	m.pos++
	return c, nil
}

// peek is the type byte of the next value, not read.
func (m *reader) peek() (byte, error) {
	if m.pos >= len(m.b) {
		return 0, io.EOF
	}
	return m.b[m.pos], nil
}

// be reads an unsigned big-endian integer of n bytes (1, 2, 4 or 8).
func (m *reader) be(n int) (uint64, error) {
	if m.left() < n {
		m.pos = len(m.b)
		return 0, io.ErrUnexpectedEOF
	}
	p := m.b[m.pos : m.pos+n]
	m.pos += n
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	}
	return binary.BigEndian.Uint64(p), nil
}

// advance passes over n bytes.
func (m *reader) advance(n int) error {
	if n > m.left() {
		m.pos = len(m.b)
		return io.ErrUnexpectedEOF
	}
	m.pos += n
	return nil
}

// wrongType says that a value of type code c came where want was wanted.
func wrongType(want string, c byte) error { return fmt.Errorf("want %s, got %s", want, typeOf(c)) }

// arrayLen reads an array header (nil reads as empty). Each element takes at least a byte, which bounds the
// length by what is left.
func (m *reader) arrayLen() (int, error) {
	c, err := m.code()
	if err != nil {
		return 0, err
	}
	return m.headerLen(c, "an", "array", msgpcode.FixedArrayLow, msgpcode.FixedArrayHigh, msgpcode.Array16, msgpcode.Array32, 1)
}

// mapLen reads a map header (nil reads as empty); each entry takes at least two bytes. A map inside an extension
// is read as the map, as msgpack decoders do.
func (m *reader) mapLen() (int, error) {
	c, err := m.code()
	if err != nil {
		return 0, err
	}
	if isExt(c) {
		if _, err := m.extLen(c); err != nil {
			return 0, err
		}
		if c, err = m.code(); err != nil {
			return 0, err
		}
	}
	return m.headerLen(c, "a", "map", msgpcode.FixedMapLow, msgpcode.FixedMapHigh, msgpcode.Map16, msgpcode.Map32, 2)
}

// headerLen reads the length of an array's or a map's header whose code c was read: a fixed one (fixLow to fixHigh,
// the length in the low four bits), one with a 16- or 32-bit length, or nil (empty). Each of the n items takes at
// least minItem bytes, which bounds n by what is left.
func (m *reader) headerLen(c byte, article, kind string, fixLow, fixHigh, c16, c32 byte, minItem uint64) (int, error) {
	var n uint64
	var err error
	switch {
	case c >= fixLow && c <= fixHigh:
		n = uint64(c & 0x0f)
	case c == c16:
		n, err = m.be(2)
	case c == c32:
		n, err = m.be(4)
	case c == msgpcode.Nil:
		return 0, nil
	default:
		return 0, wrongType(article+" "+kind, c)
	}
	if err != nil {
		return 0, err
	}
	if minItem*n > uint64(m.left()) {
		return 0, fmt.Errorf("%s length %d exceeds the %d bytes left (truncated or corrupt)", kind, n, m.left())
	}
	return int(n), nil
}

func isExt(c byte) bool {
	return (c >= msgpcode.FixExt1 && c <= msgpcode.FixExt16) || (c >= msgpcode.Ext8 && c <= msgpcode.Ext32)
}

// extLen reads the rest of an extension's header (its length, if not fixed, and its type) and gives the length
// of its data.
func (m *reader) extLen(c byte) (int, error) {
	var n uint64
	var err error
	switch c {
	case msgpcode.FixExt1, msgpcode.FixExt2, msgpcode.FixExt4, msgpcode.FixExt8, msgpcode.FixExt16:
		n = 1 << (c - msgpcode.FixExt1)
	case msgpcode.Ext8:
		n, err = m.be(1)
	case msgpcode.Ext16:
		n, err = m.be(2)
	default:
		n, err = m.be(4)
	}
	if err != nil {
		return 0, err
	}
	return int(n), m.advance(1) // the type
}

// bytes reads a str or bin value (nil reads as empty). It returns a slice of the body itself, valid while the
// body is; what is kept of it must be copied.
func (m *reader) bytes() ([]byte, error) {
	c, err := m.code()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= msgpcode.FixedStrLow && c <= msgpcode.FixedStrHigh:
		n = uint64(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8, c == msgpcode.Bin8:
		n, err = m.be(1)
	case c == msgpcode.Str16, c == msgpcode.Bin16:
		n, err = m.be(2)
	case c == msgpcode.Str32, c == msgpcode.Bin32:
		n, err = m.be(4)
	case c == msgpcode.Nil:
		return nil, nil
	default:
		return nil, wrongType("a string", c)
	}
	if err != nil {
		return nil, err
	}
	if n > uint64(m.left()) {
		return nil, fmt.Errorf("string length %d exceeds the %d bytes left (truncated or corrupt)", n, m.left())
	}
	if n == 0 {
		return nil, nil
	}
	start := m.pos
	m.pos += int(n)
	return m.b[start:m.pos:m.pos], nil
}

// key reads a string that repeats from span to span (a meta key, a service, a name, a type).
func (m *reader) key() (string, error) {
	b, err := m.bytes()
	if err != nil {
		return "", err
	}
	return m.strs.Key(b), nil
}

// value reads any other string.
func (m *reader) value() (string, error) {
	b, err := m.bytes()
	if err != nil {
		return "", err
	}
	return m.strs.Value(b), nil
}

// integer reads an integer of any msgpack width as its 64 bits (the signed ones sign-extended); nil reads as 0.
// ok is false, and nothing is read past c, when c starts no integer.
func (m *reader) integer(c byte) (v uint64, ok bool, err error) {
	switch {
	case c <= msgpcode.PosFixedNumHigh || c >= msgpcode.NegFixedNumLow:
		return uint64(int64(int8(c))), true, nil
	case c == msgpcode.Nil:
		return 0, true, nil
	case c == msgpcode.Uint8:
		v, err = m.be(1)
	case c == msgpcode.Uint16:
		v, err = m.be(2)
	case c == msgpcode.Uint32:
		v, err = m.be(4)
	case c == msgpcode.Uint64, c == msgpcode.Int64:
		v, err = m.be(8)
	case c == msgpcode.Int8:
		v, err = m.be(1)
		v = uint64(int64(int8(v)))
	case c == msgpcode.Int16:
		v, err = m.be(2)
		v = uint64(int64(int16(v)))
	case c == msgpcode.Int32:
		v, err = m.be(4)
		v = uint64(int64(int32(v)))
	default:
		return 0, false, nil
	}
	return v, true, err
}

func (m *reader) uint64() (uint64, error) {
	c, err := m.code()
	if err != nil {
		return 0, err
	}
	v, ok, err := m.integer(c)
	if !ok {
		return 0, wrongType("an integer", c)
	}
	return v, err
}

// typeOf names the msgpack type that code c starts.
func typeOf(c byte) string {
	switch {
	case msgpcode.IsFixedNum(c), c >= msgpcode.Uint8 && c <= msgpcode.Int64:
		return "an integer"
	case msgpcode.IsFixedString(c), c == msgpcode.Str8, c == msgpcode.Str16, c == msgpcode.Str32:
		return "a string"
	case c == msgpcode.Bin8, c == msgpcode.Bin16, c == msgpcode.Bin32:
		return "binary data"
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		return "an array"
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		return "a map"
	case c == msgpcode.Float, c == msgpcode.Double:
		return "a float"
	case c == msgpcode.True, c == msgpcode.False:
		return "a bool"
	case c == msgpcode.Nil:
		return "nil"
	}
	return fmt.Sprintf("msgpack code 0x%02x", c)
}

func (m *reader) int64() (int64, error) {
	c, err := m.code()
	if err != nil {
		return 0, err
	}
	v, ok, err := m.integer(c)
	if !ok {
		return 0, wrongType("an integer", c)
	}
	if err == nil && c == msgpcode.Uint64 && v > math.MaxInt64 {
		err = fmt.Errorf("%d overflows int64", v)
	}
	return int64(v), err
}

func (m *reader) float64() (float64, error) {
	c, err := m.code()
	if err != nil {
		return 0, err
	}
	switch c {
	case msgpcode.Float:
		v, err := m.be(4)
		return float64(math.Float32frombits(uint32(v))), err
	case msgpcode.Double:
		v, err := m.be(8)
		return math.Float64frombits(v), err
	}
	v, ok, err := m.integer(c)
	if !ok {
		return 0, wrongType("a number", c)
	}
	if c == msgpcode.Uint64 {
		return float64(v), err
	}
	return float64(int64(v)), err
}

// bool reads a bool (nil reads as false).
func (m *reader) bool() (bool, error) {
	c, err := m.code()
	if err != nil {
		return false, err
	}
	switch c {
	case msgpcode.True:
		return true, nil
	case msgpcode.False, msgpcode.Nil:
		return false, nil
	}
	return false, wrongType("a bool", c)
}

// errorFlag reads Datadog's error field: an int32, or a bool from lenient encoders.
func (m *reader) errorFlag() (int32, error) {
	c, err := m.peek()
	if err != nil {
		return 0, err
	}
	if c == msgpcode.True || c == msgpcode.False {
		if b, _ := m.bool(); b {
			return 1, nil
		}
		return 0, nil
	}
	v, err := m.int64()
	if err == nil && (v > math.MaxInt32 || v < math.MinInt32) {
		err = fmt.Errorf("%d overflows int32", v)
	}
	return int32(v), err
}

// maxDepth bounds the nesting of the arrays and maps skip follows, so that a body of nothing but nested array
// headers cannot exhaust the stack.
const maxDepth = 32

// skip passes over one value of any type, for fields weft does not read.
func (m *reader) skip() error { return m.skipDepth(0) }

func (m *reader) skipDepth(depth int) error {
	c, err := m.peek()
	if err != nil {
		return err
	}
	n := 0
	switch {
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		if n, err = m.arrayLen(); err != nil {
			return err
		}
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		if n, err = m.mapLen(); err != nil {
			return err
		}
		n *= 2
	default: // scalars, strings, binary and extensions do not nest
		return m.skipScalar()
	}
	if depth >= maxDepth {
		return errors.New("values nested too deep")
	}
	for i := 0; i < n; i++ {
		if err := m.skipDepth(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// skipScalar passes over a value that is no array or map.
func (m *reader) skipScalar() error {
	c, err := m.code()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedNum(c), c == msgpcode.Nil, c == msgpcode.False, c == msgpcode.True:
		return nil
	case c == msgpcode.Uint8, c == msgpcode.Int8:
		return m.advance(1)
	case c == msgpcode.Uint16, c == msgpcode.Int16:
		return m.advance(2)
	case c == msgpcode.Uint32, c == msgpcode.Int32, c == msgpcode.Float:
		return m.advance(4)
	case c == msgpcode.Uint64, c == msgpcode.Int64, c == msgpcode.Double:
		return m.advance(8)
	case msgpcode.IsFixedString(c), c >= msgpcode.Str8 && c <= msgpcode.Str32, c >= msgpcode.Bin8 && c <= msgpcode.Bin32:
		m.pos-- // bytes reads the code again
		_, err := m.bytes()
		return err
	case isExt(c):
		n, err := m.extLen(c)
		if err != nil {
			return err
		}
		return m.advance(n)
	}
	return fmt.Errorf("unknown msgpack code 0x%02x", c)
}

// wrapEOF turns the decoder's bare EOF into words a client can act on.
func wrapEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("payload ends early (truncated msgpack)")
	}
	return err
}

// decodeV04 decodes the body of /v0.3/traces or /v0.4/traces in msgpack: an array of traces, each an array of
// spans, each a map keyed by field name.
func decodeV04(body []byte, h header) ([]*model.Span, error) {
	b := newBuilder(h, nil)
	defer b.release(false) // the spans are the caller's
	return b.decodeV04(body)
}

// decodeV04 is the package's decodeV04 into b's memory.
func (b *builder) decodeV04(body []byte) ([]*model.Span, error) {
	m := &b.m
	m.reset(body)
	nt, err := m.arrayLen()
	if err != nil {
		return nil, badInput("traces: %v", wrapEOF(err))
	}
	for ti := 0; ti < nt; ti++ {
		ns, err := m.arrayLen()
		if err != nil {
			return nil, badInput("trace %d: %v", ti, wrapEOF(err))
		}
		first := len(b.spans)
		for si := 0; si < ns; si++ {
			if err := decodeSpanV04(m, b, ti, si); err != nil {
				return nil, err
			}
		}
		b.endTrace(first)
	}
	if m.left() != 0 {
		return nil, badInput("%d trailing bytes after the traces", m.left())
	}
	return b.spans, nil
}

func decodeSpanV04(m *reader, b *builder, ti, si int) error {
	where := func() string { return fmt.Sprintf("trace %d span %d", ti, si) }
	fail := func(field string, err error) error {
		return badInput("%s: %s: %v", where(), field, wrapEOF(err))
	}
	n, err := m.mapLen()
	if err != nil {
		return fail("span", err)
	}
	b.begin()
	var r rawSpan
	for i := 0; i < n; i++ {
		k, err := m.bytes()
		if err != nil {
			return fail("field name", err)
		}
		var field string
		switch string(k) { // compiles to comparisons, without allocating
		case "service":
			field = "service"
			r.service, err = m.key()
		case "name":
			field = "name"
			r.name, err = m.key()
		case "resource":
			field = "resource"
			r.resource, err = m.value()
		case "type":
			field = "type"
			r.typ, err = m.key()
		case "trace_id":
			field = "trace_id"
			r.traceID, err = m.uint64()
		case "span_id":
			field = "span_id"
			r.spanID, err = m.uint64()
		case "parent_id":
			field = "parent_id"
			r.parentID, err = m.uint64()
		case "start":
			field = "start"
			r.start, err = m.int64()
		case "duration":
			field = "duration"
			r.duration, err = m.int64()
		case "error":
			field = "error"
			r.err, err = m.errorFlag()
		case "meta":
			field = "meta"
			err = decodeMetaV04(m, b)
		case "metrics":
			field = "metrics"
			err = decodeMetricsV04(m, b)
		case "span_links":
			field = "span_links"
			err = decodeLinksV04(m, b)
		case "span_events":
			field = "span_events"
			err = decodeEventsV04(m, b)
		default: // meta_struct and whatever comes next
			field = fieldName(k)
			err = m.skip()
		}
		if err != nil {
			return fail(strconv.Quote(field), err)
		}
	}
	return b.finish(&r, ti, si)
}

// fieldName is an unknown field's name for an error message, cut short if it is long.
func fieldName(k []byte) string {
	if len(k) > 40 {
		return string(k[:40]) + "..."
	}
	return string(k)
}

func decodeMetaV04(m *reader, b *builder) error {
	n, err := m.mapLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k, err := m.key()
		if err != nil {
			return err
		}
		v, err := m.value()
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		b.meta(k, v)
	}
	return nil
}

func decodeMetricsV04(m *reader, b *builder) error {
	n, err := m.mapLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k, err := m.key()
		if err != nil {
			return err
		}
		f, err := m.float64()
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		b.metric(k, f)
	}
	return nil
}

// decodeLinksV04 reads span_links: an array of maps with trace_id, trace_id_high, span_id, attributes (a string
// map), tracestate and flags.
func decodeLinksV04(m *reader, b *builder) error {
	n, err := m.arrayLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		nf, err := m.mapLen()
		if err != nil {
			return err
		}
		var l model.Link
		var lo, hi, sid uint64
		for j := 0; j < nf; j++ {
			k, err := m.bytes()
			if err != nil {
				return err
			}
			field := "flags"
			switch string(k) {
			case "trace_id":
				field = "trace_id"
				lo, err = m.uint64()
			case "trace_id_high":
				field = "trace_id_high"
				hi, err = m.uint64()
			case "span_id":
				field = "span_id"
				sid, err = m.uint64()
			case "tracestate":
				field = "tracestate"
				l.TraceState, err = m.value()
			case "attributes":
				field = "attributes"
				var na int
				if na, err = m.mapLen(); err == nil {
					for a := 0; a < na && err == nil; a++ {
						var ak, av string
						if ak, err = m.key(); err == nil {
							if av, err = m.value(); err == nil {
								l.Attrs = append(l.Attrs, model.Attr{Key: ak, Value: model.String(av)})
							}
						}
					}
				}
			default: // flags
				field = fieldName(k)
				err = m.skip()
			}
			if err != nil {
				return fmt.Errorf("link %d: %q: %w", i, field, err)
			}
		}
		binary.BigEndian.PutUint64(l.TraceID[:8], hi)
		binary.BigEndian.PutUint64(l.TraceID[8:], lo)
		binary.BigEndian.PutUint64(l.SpanID[:], sid)
		b.links = append(b.links, l)
	}
	return nil
}

// decodeEventsV04 reads span_events: an array of maps with name, time_unix_nano and attributes, whose values are
// maps of a type code and a string_value, bool_value, int_value, double_value or array_value.
func decodeEventsV04(m *reader, b *builder) error {
	n, err := m.arrayLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		nf, err := m.mapLen()
		if err != nil {
			return err
		}
		var e model.Event
		for j := 0; j < nf; j++ {
			k, err := m.bytes()
			if err != nil {
				return err
			}
			var field string
			switch string(k) {
			case "name":
				field = "name"
				e.Name, err = m.key()
			case "time_unix_nano":
				field = "time_unix_nano"
				e.Time, err = m.int64()
			case "attributes":
				field = "attributes"
				var na int
				if na, err = m.mapLen(); err == nil {
					for a := 0; a < na && err == nil; a++ {
						var ak string
						var v model.Value
						if ak, err = m.key(); err == nil {
							if v, err = decodeAnyValue(m, 0); err == nil {
								e.Attrs = append(e.Attrs, model.Attr{Key: ak, Value: v})
							}
						}
					}
				}
			default:
				field = fieldName(k)
				err = m.skip()
			}
			if err != nil {
				return fmt.Errorf("event %d: %q: %w", i, field, err)
			}
		}
		b.events = append(b.events, e)
	}
	return nil
}

// decodeAnyValue reads a span event attribute value: {type, string_value|bool_value|int_value|double_value|
// array_value: {values: [...]}}. The value field decides the type; the type code is not needed.
func decodeAnyValue(m *reader, depth int) (model.Value, error) {
	var v model.Value
	n, err := m.mapLen()
	if err != nil {
		return v, err
	}
	for i := 0; i < n; i++ {
		k, err := m.bytes()
		if err != nil {
			return v, err
		}
		switch string(k) {
		case "string_value":
			var s string
			s, err = m.value()
			v = model.String(s)
		case "bool_value":
			var bv bool
			bv, err = m.bool()
			v = model.Bool(bv)
		case "int_value":
			var iv int64
			iv, err = m.int64()
			v = model.Int(iv)
		case "double_value":
			var f float64
			f, err = m.float64()
			v = model.Float(f)
		case "array_value":
			if depth > 0 {
				return v, errors.New("nested array_value")
			}
			v, err = decodeArrayValue(m)
		default:
			err = m.skip()
		}
		if err != nil {
			return v, err
		}
	}
	return v, nil
}

func decodeArrayValue(m *reader) (model.Value, error) {
	v := model.Value{Type: model.TypeArray}
	n, err := m.mapLen()
	if err != nil {
		return v, err
	}
	for i := 0; i < n; i++ {
		k, err := m.bytes()
		if err != nil {
			return v, err
		}
		if string(k) != "values" {
			if err := m.skip(); err != nil {
				return v, err
			}
			continue
		}
		ne, err := m.arrayLen()
		if err != nil {
			return v, err
		}
		for j := 0; j < ne; j++ {
			e, err := decodeAnyValue(m, 1)
			if err != nil {
				return v, err
			}
			v.Array = append(v.Array, e)
		}
	}
	return v, nil
}

// decodeV05 decodes the body of /v0.5/traces: [ [string...], [ [ span... ]... ] ], where each span is an array of
// 12 elements — service, name, resource (string indexes), trace_id, span_id, parent_id, start, duration, error,
// meta (index to index), metrics (index to float), type (index) — and every string is an index into the table.
func decodeV05(body []byte, h header) ([]*model.Span, error) {
	b := newBuilder(h, nil)
	defer b.release(false) // the spans are the caller's
	return b.decodeV05(body)
}

// decodeV05 is the package's decodeV05 into b's memory.
func (b *builder) decodeV05(body []byte) ([]*model.Span, error) {
	m := &b.m
	m.reset(body)
	n, err := m.arrayLen()
	if err != nil {
		return nil, badInput("payload: %v", wrapEOF(err))
	}
	if n != 2 {
		return nil, badInput("payload: want an array of 2 (strings, traces), got %d elements", n)
	}
	if err := b.table.read(m); err != nil {
		return nil, badInput("string table: %v", wrapEOF(err))
	}
	nt, err := m.arrayLen()
	if err != nil {
		return nil, badInput("traces: %v", wrapEOF(err))
	}
	for ti := 0; ti < nt; ti++ {
		ns, err := m.arrayLen()
		if err != nil {
			return nil, badInput("trace %d: %v", ti, wrapEOF(err))
		}
		first := len(b.spans)
		for si := 0; si < ns; si++ {
			if err := decodeSpanV05(m, b, &b.table, ti, si); err != nil {
				return nil, err
			}
		}
		b.endTrace(first)
	}
	if m.left() != 0 {
		return nil, badInput("%d trailing bytes after the traces", m.left())
	}
	return b.spans, nil
}

// stringTable holds v0.5's strings as one string and the end offset of each, so that a table of many strings
// costs one allocation and four bytes a string. The ends, and the buffer the strings are gathered in before they
// are copied into all, are the builder's and serve the next request.
type stringTable struct {
	all  string
	ends []uint32
	buf  []byte
}

func (t *stringTable) get(i uint64) (string, bool) {
	if i >= uint64(len(t.ends)) {
		return "", false
	}
	var start uint32
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.all[start:t.ends[i]], true
}

// read reads the table, reusing t's ends.
func (t *stringTable) read(m *reader) error {
	n, err := m.arrayLen()
	if err != nil {
		return err
	}
	t.ends = slices.Grow(t.ends[:0], n)[:n]
	all := t.buf[:0]
	for i := range t.ends {
		b, err := m.bytes()
		if err != nil {
			return fmt.Errorf("string %d: %w", i, err)
		}
		all = append(all, b...)
		t.ends[i] = uint32(len(all))
	}
	t.all = string(all) // the spans' strings: a copy, never written again
	t.buf = all[:0]
	return nil
}

func decodeSpanV05(m *reader, b *builder, t *stringTable, ti, si int) error {
	where := func() string { return fmt.Sprintf("trace %d span %d", ti, si) }
	n, err := m.arrayLen()
	if err != nil {
		return badInput("%s: %v", where(), wrapEOF(err))
	}
	if n != 12 {
		return badInput("%s: want an array of 12 elements, got %d", where(), n)
	}
	field := ""
	str := func(name string) (string, error) {
		field = name
		i, err := m.uint64()
		if err != nil {
			return "", err
		}
		s, ok := t.get(i)
		if !ok {
			return "", fmt.Errorf("string index %d out of range (table has %d)", i, len(t.ends))
		}
		return s, nil
	}
	b.begin()
	var r rawSpan
	err = func() (err error) {
		if r.service, err = str("service"); err != nil {
			return err
		}
		if r.name, err = str("name"); err != nil {
			return err
		}
		if r.resource, err = str("resource"); err != nil {
			return err
		}
		field = "trace_id"
		if r.traceID, err = m.uint64(); err != nil {
			return err
		}
		field = "span_id"
		if r.spanID, err = m.uint64(); err != nil {
			return err
		}
		field = "parent_id"
		if r.parentID, err = m.uint64(); err != nil {
			return err
		}
		field = "start"
		if r.start, err = m.int64(); err != nil {
			return err
		}
		field = "duration"
		if r.duration, err = m.int64(); err != nil {
			return err
		}
		field = "error"
		if r.err, err = m.errorFlag(); err != nil {
			return err
		}
		field = "meta"
		nm, err := m.mapLen()
		if err != nil {
			return err
		}
		for i := 0; i < nm; i++ {
			k, err := str("meta key")
			if err != nil {
				return err
			}
			v, err := str("meta value")
			if err != nil {
				return err
			}
			b.meta(k, v)
		}
		field = "metrics"
		nm, err = m.mapLen()
		if err != nil {
			return err
		}
		for i := 0; i < nm; i++ {
			k, err := str("metrics key")
			if err != nil {
				return err
			}
			field = "metrics value"
			f, err := m.float64()
			if err != nil {
				return err
			}
			b.metric(k, f)
		}
		r.typ, err = str("type")
		return err
	}()
	if err != nil {
		return badInput("%s: %s: %v", where(), field, wrapEOF(err))
	}
	return b.finish(&r, ti, si)
}

// isJSON reports whether a v0.3/v0.4 body is JSON: by its content type, or, when there is none, by its first
// byte (a msgpack array of traces never starts with '[' or white space).
func isJSON(contentType string, body []byte) bool {
	ct := strings.ToLower(contentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	switch strings.TrimSpace(ct) {
	case "application/json", "text/json":
		return true
	case "":
		for _, c := range body {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '[':
				return true
			}
			return false
		}
	}
	return false
}
