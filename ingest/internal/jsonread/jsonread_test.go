package jsonread

import "testing"

func TestString(t *testing.T) {
	for _, tt := range []struct {
		in, want   string
		inBody, ok bool
		rest       string
	}{
		{`"abc" x`, "abc", true, true, " x"},
		{`""`, "", true, true, ""},
		{`"a\"b\\c\/d\n\t\r\b\f"`, "a\"b\\c/d\n\t\r\b\f", false, true, ""},
		{`"\u00e9"`, "", false, false, ""},
		{`"\x"`, "", false, false, ""},
		{"\"a\x01\"", "", false, false, ""},
		{"\"\xff\"", "", false, false, ""},
		{`"open`, "", false, false, ""},
		{`"open\`, "", false, false, ""},
		{`x`, "", false, false, ""},
	} {
		r := Reader{B: []byte(tt.in)}
		s, inBody, ok := r.String()
		if ok != tt.ok || ok && (string(s) != tt.want || inBody != tt.inBody || string(r.B[r.I:]) != tt.rest) {
			t.Errorf("String(%q) = %q, %v, %v, rest %q; want %q, %v, %v, rest %q", tt.in, s, inBody, ok, r.B[r.I:],
				tt.want, tt.inBody, tt.ok, tt.rest)
		}
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "-0", "12,": "12", "-1.5e+3]": "-1.5e+3", "1E9": "1E9", "0.25": "0.25",
		"01": "0", // a number ends at the leading zero; what follows is the caller's to refuse
		"-":  "", "1.": "", ".5": "", "1e": "", "+1": "", "x": "",
	} {
		r := Reader{B: []byte(in)}
		got, ok := r.Number()
		if ok != (want != "") || string(got) != want {
			t.Errorf("Number(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestObjectRefusesRepeatsAndEscapedKeys(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":1,"b":2}`: true,
		` { } `:         true,
		`{"a":1,"a":2}`: false,
		`{"a\n":1}`:     false,
		`{"a":1,}`:      false,
		`{"a" 1}`:       false,
		`{"a":1 "b":2}`: false,
		`{"a":1`:        false,
	} {
		r := Reader{B: []byte(in)}
		got := r.Object(func(key []byte) bool { _, ok := r.Number(); return ok })
		if got != want {
			t.Errorf("Object(%q) = %v, want %v", in, got, want)
		}
	}
	r := Reader{B: []byte(`{"a":1,"a":2,"b\n":3}`)}
	n := 0
	if !r.Members(func(key []byte) bool { n++; _, ok := r.Number(); return ok }) || n != 3 {
		t.Errorf("Members: %d members, want 3 with repeats and escapes", n)
	}
}
