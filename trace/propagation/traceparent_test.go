package propagation

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/weftrace/weft/trace"
)

// TestParseTraceparentLayout00 checks the one-pass decoder of version-00 values against what each field means:
// which values it accepts, and the IDs and flags it reads, including the cases where only one half of an ID is
// zero or a digit is out of range in a single position.
func TestParseTraceparentLayout00(t *testing.T) {
	for _, tc := range []struct {
		in     string
		ok     bool
		trace  string // the trace ID read back, hex, when ok
		span   string
		flags  trace.TraceFlags
		reason string // part of the error when not ok
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, ""},
		{"00-00000000000000000000000000000001-0000000000000001-00", true, "00000000000000000000000000000001", "0000000000000001", 0, ""},
		{"00-10000000000000000000000000000000-1000000000000000-ff", true, "10000000000000000000000000000000", "1000000000000000", 0xff, ""},
		{"00-00000000000000000000000000000000-0000000000000001-01", false, "", "", 0, "trace-id"},
		{"00-00000000000000000000000000000001-0000000000000000-01", false, "", "", 0, "parent-id"},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false, "", "", 0, "trace-id"},
		{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false, "", "", 0, "trace-id"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bZ-01", false, "", "", 0, "parent-id"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0G", false, "", "", 0, "trace-flags"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-A1", false, "", "", 0, "trace-flags"},
	} {
		sc, err := ParseTraceparent(tc.in)
		if !tc.ok {
			pe, isPE := err.(*ParseError)
			if !isPE || !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("%q: error %v, want one about %s", tc.in, err, tc.reason)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := string(appendHex(nil, sc.TraceID[:])); got != tc.trace {
			t.Errorf("%q: trace ID %s, want %s", tc.in, got, tc.trace)
		}
		if got := string(appendHex(nil, sc.SpanID[:])); got != tc.span {
			t.Errorf("%q: span ID %s, want %s", tc.in, got, tc.span)
		}
		if sc.Flags != tc.flags || !sc.Remote || sc.Priority != trace.PriorityUnset {
			t.Errorf("%q: flags %x remote %v priority %d", tc.in, sc.Flags, sc.Remote, sc.Priority)
		}
	}
}

// TestPutHex checks the word-at-a-time hex encoder against encoding/hex, on every nibble value in every place
// and on random IDs.
func TestPutHex(t *testing.T) {
	var cases [][]byte
	for d := 0; d < 16; d++ {
		for place := 0; place < 8; place++ {
			b := make([]byte, 4)
			b[place/2] = byte(d << (4 * (1 - place%2)))
			cases = append(cases, b)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		b := make([]byte, 16)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		cases = append(cases, b, b[:8])
	}
	cases = append(cases, []byte{0, 0, 0, 0}, []byte{0xff, 0xff, 0xff, 0xff}, []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef})
	for _, b := range cases {
		got := make([]byte, 2*len(b))
		putHex(got, b)
		if want := hex.EncodeToString(b); string(got) != want {
			t.Fatalf("putHex(%x) = %q, want %q", b, got, want)
		}
	}
}

// TestHexWord8 checks the word-at-a-time hex decoder against the table: every byte value in every one of the
// eight places (among valid digits) must be accepted exactly when it is a lowercase hex digit, and valid words
// must decode to what encoding/hex reads.
func TestHexWord8(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	digits := func() []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = hexDigits[r.IntN(16)]
		}
		return b
	}
	check := func(s []byte) {
		t.Helper()
		got, ok := hexWord8(load64(string(s)))
		want, err := hex.DecodeString(string(s))
		wantOK := err == nil && strings.ToLower(string(s)) == string(s)
		if ok != wantOK {
			t.Fatalf("hexWord8(%q) ok = %v, want %v", s, ok, wantOK)
		}
		if ok {
			var b [4]byte
			b[0], b[1], b[2], b[3] = byte(got), byte(got>>8), byte(got>>16), byte(got>>24)
			if string(b[:]) != string(want) {
				t.Fatalf("hexWord8(%q) = %x, want %x", s, b, want)
			}
		}
	}
	for place := 0; place < 8; place++ {
		for c := 0; c < 256; c++ {
			s := digits()
			s[place] = byte(c)
			check(s)
		}
	}
	for i := 0; i < 10000; i++ {
		check(digits())
	}
}
