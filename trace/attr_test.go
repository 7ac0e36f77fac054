package trace

import "testing"

func TestValues(t *testing.T) {
	ss, is, fs, bs := []string{"a", "b"}, []int64{1, -2}, []float64{0.5}, []bool{true}
	tests := []struct {
		attr Attr
		typ  ValueType
		text string
		ok   func(Value) bool
	}{
		{String("k", "v"), TypeString, "v", func(v Value) bool { return v.AsString() == "v" }},
		{String("k", ""), TypeString, "", func(v Value) bool { return v.AsString() == "" }},
		{Int64("k", -42), TypeInt64, "-42", func(v Value) bool { return v.AsInt64() == -42 }},
		{Int("k", 7), TypeInt64, "7", func(v Value) bool { return v.AsInt64() == 7 }},
		{Float64("k", 0.25), TypeFloat64, "0.25", func(v Value) bool { return v.AsFloat64() == 0.25 }},
		{Bool("k", true), TypeBool, "true", func(v Value) bool { return v.AsBool() }},
		{Bool("k", false), TypeBool, "false", func(v Value) bool { return !v.AsBool() }},
		{Strings("k", ss), TypeStrings, "[a b]", func(v Value) bool { return len(v.AsStrings()) == 2 && v.AsStrings()[1] == "b" }},
		{Int64s("k", is), TypeInt64s, "[1 -2]", func(v Value) bool { return v.AsInt64s()[1] == -2 }},
		{Float64s("k", fs), TypeFloat64s, "[0.5]", func(v Value) bool { return v.AsFloat64s()[0] == 0.5 }},
		{Bools("k", bs), TypeBools, "[true]", func(v Value) bool { return v.AsBools()[0] }},
	}
	for _, tt := range tests {
		v := tt.attr.Value
		if v.Type() != tt.typ || v.String() != tt.text || !tt.ok(v) {
			t.Errorf("%v: type %v text %q", tt.attr, v.Type(), v.String())
		}
		if !v.Equal(v.clone()) || !tt.attr.Equal(tt.attr) {
			t.Errorf("%v is not equal to itself", tt.attr)
		}
		// Accessors of another type give zero values.
		if tt.typ != TypeString && v.AsString() != "" || tt.typ != TypeInt64 && v.AsInt64() != 0 ||
			tt.typ != TypeStrings && v.AsStrings() != nil || tt.typ != TypeBool && v.AsBool() {
			t.Errorf("%v: an accessor of another type gave a value", tt.attr)
		}
	}
	if String("k", "1").Value.Equal(Int64Value(1)) || Int64Value(1).Equal(Int64Value(2)) ||
		StringsValue([]string{"a"}).Equal(StringsValue([]string{"b"})) {
		t.Error("different values are equal")
	}
	if TypeBools.String() != "[]bool" || ValueType(99).String() != "unknown" || (Value{}).String() != "" {
		t.Error("type names")
	}
	if got := String("http.route", "/pair").String(); got != "http.route=/pair" {
		t.Errorf("Attr.String = %q", got)
	}
}

func TestCloneSharesNothing(t *testing.T) {
	ss := []string{"a"}
	d := &SpanData{Attrs: []Attr{Strings("k", ss)}, Events: []Event{{Name: "e", Attrs: []Attr{Int("n", 1)}}},
		Links: []Link{{Attrs: []Attr{Int("l", 1)}}}}
	c := d.Clone()
	ss[0] = "changed"
	d.Events[0].Attrs[0] = Int("n", 2)
	d.Links[0].Attrs[0] = Int("l", 2)
	if c.Attrs[0].Value.AsStrings()[0] != "a" || c.Events[0].Attrs[0].Value.AsInt64() != 1 ||
		c.Links[0].Attrs[0].Value.AsInt64() != 1 {
		t.Error("the clone shares memory with the original")
	}
}
