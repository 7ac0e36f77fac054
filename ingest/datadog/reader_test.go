package datadog

import (
	"bytes"
	"math"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// readerValues are msgpack values of every type and width, each encoded as the encoder's explicit method writes it.
func readerValues(t testing.TB) [][]byte {
	var out [][]byte
	enc := func(f func(e *msgpack.Encoder) error) {
		var buf bytes.Buffer
		if err := f(msgpack.NewEncoder(&buf)); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	for _, u := range []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, math.MaxUint64} {
		enc(func(e *msgpack.Encoder) error { return e.EncodeUint(u) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeUint64(u) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeUint32(uint32(u)) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeUint16(uint16(u)) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeUint8(uint8(u)) })
	}
	for _, i := range []int64{0, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64, 5, 1 << 40} {
		enc(func(e *msgpack.Encoder) error { return e.EncodeInt(i) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeInt64(i) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeInt32(int32(i)) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeInt16(int16(i)) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeInt8(int8(i)) })
	}
	for _, f := range []float64{0, -1.5, 0.1, math.Inf(1), math.MaxFloat64} {
		enc(func(e *msgpack.Encoder) error { return e.EncodeFloat64(f) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeFloat32(float32(f)) })
	}
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		s := string(bytes.Repeat([]byte{'s'}, n))
		enc(func(e *msgpack.Encoder) error { return e.EncodeString(s) })
		enc(func(e *msgpack.Encoder) error { return e.EncodeBytes([]byte(s)) })
	}
	for _, n := range []int{0, 3, 15, 16, 65536} {
		enc(func(e *msgpack.Encoder) error {
			if err := e.EncodeArrayLen(n); err != nil {
				return err
			}
			for i := range n {
				if err := e.EncodeInt(int64(i)); err != nil {
					return err
				}
			}
			return nil
		})
		enc(func(e *msgpack.Encoder) error {
			if err := e.EncodeMapLen(n); err != nil {
				return err
			}
			for i := range n {
				if err := e.EncodeInt(int64(i)); err != nil {
					return err
				}
				if err := e.EncodeString("v"); err != nil {
					return err
				}
			}
			return nil
		})
	}
	enc(func(e *msgpack.Encoder) error { return e.EncodeNil() })
	enc(func(e *msgpack.Encoder) error { return e.EncodeBool(true) })
	enc(func(e *msgpack.Encoder) error { return e.EncodeBool(false) })
	for _, n := range []int{1, 2, 4, 8, 16, 3, 300, 70000} {
		enc(func(e *msgpack.Encoder) error {
			if err := e.EncodeExtHeader(7, n); err != nil {
				return err
			}
			_, err := e.Writer().Write(make([]byte, n))
			return err
		})
	}
	enc(func(e *msgpack.Encoder) error { // a map inside an extension
		if err := e.EncodeExtHeader(7, 4); err != nil { // {"a": 1} is 4 bytes
			return err
		}
		return e.Encode(map[string]int{"a": 1})
	})
	return out
}

// readerOps are the reader's reads, each beside the same read through the msgpack library, as the receiver did
// before it read msgpack by hand: both take one value from the front of a body and give it as a uint64 (a number's
// bits, a length, a string's length), or fail.
var readerOps = []struct {
	name string
	ours func(m *reader) (uint64, error)
	lib  func(d *msgpack.Decoder) (uint64, error)
}{
	{"uint64", (*reader).uint64, (*msgpack.Decoder).DecodeUint64},
	{"int64",
		func(m *reader) (uint64, error) { v, err := m.int64(); return uint64(v), err },
		func(d *msgpack.Decoder) (uint64, error) { v, err := d.DecodeInt64(); return uint64(v), err }},
	{"float64",
		func(m *reader) (uint64, error) { f, err := m.float64(); return math.Float64bits(f), err },
		func(d *msgpack.Decoder) (uint64, error) {
			if c, err := d.PeekCode(); err == nil && c == 0xcf {
				// The library reads a uint64 as an int64 here; the reader keeps it unsigned.
				u, err := d.DecodeUint64()
				return math.Float64bits(float64(u)), err
			}
			f, err := d.DecodeFloat64()
			return math.Float64bits(f), err
		}},
	{"bool",
		func(m *reader) (uint64, error) { b, err := m.bool(); return boolBit(b), err },
		func(d *msgpack.Decoder) (uint64, error) { b, err := d.DecodeBool(); return boolBit(b), err }},
	{"bytes",
		func(m *reader) (uint64, error) { b, err := m.bytes(); return uint64(len(b)), err },
		func(d *msgpack.Decoder) (uint64, error) {
			b, err := d.DecodeBytes()
			return uint64(len(b)), err
		}},
	{"arrayLen",
		func(m *reader) (uint64, error) { n, err := m.arrayLen(); return uint64(n), err },
		func(d *msgpack.Decoder) (uint64, error) { n, err := d.DecodeArrayLen(); return uint64(max(n, 0)), err }},
	{"mapLen",
		func(m *reader) (uint64, error) { n, err := m.mapLen(); return uint64(n), err },
		func(d *msgpack.Decoder) (uint64, error) { n, err := d.DecodeMapLen(); return uint64(max(n, 0)), err }},
	{"skip",
		func(m *reader) (uint64, error) { return 0, m.skip() },
		func(d *msgpack.Decoder) (uint64, error) { return 0, d.Skip() }},
}

func boolBit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// sameRead reads the front of body with op both ways: where the reader succeeds, the library must too, with the
// same value, leaving the same bytes. The reader may refuse more (a length past the bytes left, nesting past
// maxDepth), never less, except where the library reads bytes that are not there as zeros.
func sameRead(t *testing.T, body []byte, opIndex int) {
	op := readerOps[opIndex%len(readerOps)]
	m := &reader{}
	m.reset(body)
	got, err := op.ours(m)
	if err != nil {
		return // (the library is not asked: it would allocate whatever a length claims)
	}
	r := bytes.NewReader(body)
	want, libErr := op.lib(msgpack.NewDecoder(r))
	if libErr != nil {
		t.Fatalf("%s of % x: the reader gives %d, the msgpack library fails: %v", op.name, body[:min(len(body), 16)], got, libErr)
	}
	if got != want || m.left() != r.Len() {
		t.Fatalf("%s of % x: the reader gives %d leaving %d bytes, the msgpack library %d leaving %d",
			op.name, body[:min(len(body), 16)], got, m.left(), want, r.Len())
	}
}

// TestReaderMatchesMsgpack: every value of every width reads as the msgpack library reads it, by every read that
// takes its type, and a read of the wrong type fails.
func TestReaderMatchesMsgpack(t *testing.T) {
	values := readerValues(t)
	reads := 0
	for _, v := range values {
		for op := range readerOps {
			m := &reader{}
			m.reset(v)
			if _, err := readerOps[op].ours(m); err == nil {
				reads++
			}
			sameRead(t, v, op)
		}
		m := &reader{}
		m.reset(v)
		if err := m.skip(); err != nil || m.left() != 0 {
			t.Fatalf("skip of % x: %v, %d bytes left", v[:min(len(v), 16)], err, m.left())
		}
	}
	if reads < 3*len(values) {
		t.Fatalf("only %d reads of %d values succeeded: the test compares little", reads, len(values))
	}
}

// FuzzReaderMatchesMsgpack is TestReaderMatchesMsgpack for any bytes.
func FuzzReaderMatchesMsgpack(f *testing.F) {
	for _, v := range readerValues(f) {
		if len(v) < 1024 {
			f.Add(v, byte(0))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, op byte) {
		sameRead(t, body, int(op))
	})
}
