package otlp

import "testing"

func TestParseResponse(t *testing.T) {
	// partial_success { rejected_spans: 3, error_message: "too old" }, then an unknown field 9 (fixed64).
	inner := appendStringField(appendUvarintField(nil, 1, 3), 2, "too old")
	full := appendBytesField(nil, 1, inner)
	full = appendFixed64Field(full, 9, 42)
	tests := []struct {
		name    string
		in      []byte
		want    PartialSuccess
		wantErr bool
	}{
		{"empty is full success", nil, PartialSuccess{}, false},
		{"partial success", full, PartialSuccess{RejectedSpans: 3, ErrorMessage: "too old"}, false},
		{"truncated", full[:len(full)-3], PartialSuccess{}, true},
		{"bad wire type", []byte{0x0f}, PartialSuccess{}, true},
		{"length past the end", []byte{0x0a, 0x7f, 0x01}, PartialSuccess{}, true},
	}
	for _, tt := range tests {
		got, err := ParseResponse(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("%s: got %+v, %v", tt.name, got, err)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(appendBytesField(nil, 1, appendStringField(appendUvarintField(nil, 1, 3), 2, "x")))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseResponse(b) // must not panic
	})
}
