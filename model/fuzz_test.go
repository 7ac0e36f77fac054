package model

import (
	"strings"
	"testing"
)

// isHexID reports whether s is what the ID parsers accept: 1 to max hex digits, not all zero.
func isHexID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	zero := true
	for _, c := range []byte(s) {
		switch {
		case c == '0':
		case '1' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			zero = false
		default:
			return false
		}
	}
	return !zero
}

// FuzzParseTraceID: the query APIs read trace IDs from URL paths and parameters. ParseTraceID accepts exactly
// 1 to 32 hex digits that are not all zero, and what it accepts prints back as the input, left-padded to 32
// lowercase digits.
func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "e457b5a2e4d86bd1", "1", "0", "", "00000000000000000000000000000000",
		"4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e47361", "xyz", "+1", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseTraceID(s)
		if ok := isHexID(s, 32); ok != (err == nil) {
			t.Fatalf("ParseTraceID(%q) = %v, %v; want accepted = %v", s, id, err, ok)
		}
		if err != nil {
			if id != (TraceID{}) {
				t.Fatalf("ParseTraceID(%q) failed but returned %v", s, id)
			}
			return
		}
		if want := strings.Repeat("0", 32-len(s)) + strings.ToLower(s); id.String() != want {
			t.Fatalf("ParseTraceID(%q) = %s, want %s", s, id, want)
		}
	})
}

// FuzzParseSpanID is FuzzParseTraceID for the 16-digit span IDs.
func FuzzParseSpanID(f *testing.F) {
	for _, s := range []string{"e457b5a2e4d86bd1", "1", "0", "", "0000000000000000", "E457B5A2E4D86BD1", "e457b5a2e4d86bd10", "g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseSpanID(s)
		if ok := isHexID(s, 16); ok != (err == nil) {
			t.Fatalf("ParseSpanID(%q) = %v, %v; want accepted = %v", s, id, err, ok)
		}
		if err != nil {
			if id != (SpanID{}) {
				t.Fatalf("ParseSpanID(%q) failed but returned %v", s, id)
			}
			return
		}
		if want := strings.Repeat("0", 16-len(s)) + strings.ToLower(s); id.String() != want {
			t.Fatalf("ParseSpanID(%q) = %s, want %s", s, id, want)
		}
	})
}
