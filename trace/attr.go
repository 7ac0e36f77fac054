package trace

import (
	"math"
	"strconv"
	"unsafe"
)

// ValueType says which of its types a Value holds.
type ValueType uint8

// The types an attribute value can have: the OpenTelemetry scalar types and slices of them.
const (
	TypeEmpty ValueType = iota
	TypeString
	TypeInt64
	TypeFloat64
	TypeBool
	TypeStrings
	TypeInt64s
	TypeFloat64s
	TypeBools
)

var typeNames = [...]string{"empty", "string", "int64", "float64", "bool", "[]string", "[]int64", "[]float64", "[]bool"}

// String names the type ("string", "int64", "[]bool", ...).
func (t ValueType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// Value is a typed attribute value. Like slog.Value it holds its payload without an interface, so that making
// one never allocates: a number in place, a string or slice as a pointer to its data and a length. A Value made
// from a slice shares that slice: do not modify the slice after handing it to a span.
type Value struct {
	typ ValueType
	num uint64         // the number, the bool, or the length of a string or slice
	ptr unsafe.Pointer // the data of a string or slice
}

// StringValue makes a string Value.
func StringValue(v string) Value {
	return Value{typ: TypeString, num: uint64(len(v)), ptr: unsafe.Pointer(unsafe.StringData(v))}
}

// Int64Value makes an int64 Value.
func Int64Value(v int64) Value { return Value{typ: TypeInt64, num: uint64(v)} }

// Float64Value makes a float64 Value.
func Float64Value(v float64) Value { return Value{typ: TypeFloat64, num: math.Float64bits(v)} }

// BoolValue makes a bool Value.
func BoolValue(v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return Value{typ: TypeBool, num: n}
}

// StringsValue makes a []string Value that shares v.
func StringsValue(v []string) Value {
	return Value{typ: TypeStrings, num: uint64(len(v)), ptr: unsafe.Pointer(unsafe.SliceData(v))}
}

// Int64sValue makes a []int64 Value that shares v.
func Int64sValue(v []int64) Value {
	return Value{typ: TypeInt64s, num: uint64(len(v)), ptr: unsafe.Pointer(unsafe.SliceData(v))}
}

// Float64sValue makes a []float64 Value that shares v.
func Float64sValue(v []float64) Value {
	return Value{typ: TypeFloat64s, num: uint64(len(v)), ptr: unsafe.Pointer(unsafe.SliceData(v))}
}

// BoolsValue makes a []bool Value that shares v.
func BoolsValue(v []bool) Value {
	return Value{typ: TypeBools, num: uint64(len(v)), ptr: unsafe.Pointer(unsafe.SliceData(v))}
}

// Type is the type of the value.
func (v Value) Type() ValueType { return v.typ }

// AsString is the string held, or "" if the value is not a string.
func (v Value) AsString() string {
	if v.typ != TypeString {
		return ""
	}
	return unsafe.String((*byte)(v.ptr), int(v.num))
}

// AsInt64 is the int64 held, or 0.
func (v Value) AsInt64() int64 {
	if v.typ != TypeInt64 {
		return 0
	}
	return int64(v.num)
}

// AsFloat64 is the float64 held, or 0.
func (v Value) AsFloat64() float64 {
	if v.typ != TypeFloat64 {
		return 0
	}
	return math.Float64frombits(v.num)
}

// AsBool is the bool held, or false.
func (v Value) AsBool() bool { return v.typ == TypeBool && v.num != 0 }

// AsStrings is the []string held (shared, not copied), or nil.
func (v Value) AsStrings() []string {
	if v.typ != TypeStrings {
		return nil
	}
	return unsafe.Slice((*string)(v.ptr), int(v.num))
}

// AsInt64s is the []int64 held (shared, not copied), or nil.
func (v Value) AsInt64s() []int64 {
	if v.typ != TypeInt64s {
		return nil
	}
	return unsafe.Slice((*int64)(v.ptr), int(v.num))
}

// AsFloat64s is the []float64 held (shared, not copied), or nil.
func (v Value) AsFloat64s() []float64 {
	if v.typ != TypeFloat64s {
		return nil
	}
	return unsafe.Slice((*float64)(v.ptr), int(v.num))
}

// AsBools is the []bool held (shared, not copied), or nil.
func (v Value) AsBools() []bool {
	if v.typ != TypeBools {
		return nil
	}
	return unsafe.Slice((*bool)(v.ptr), int(v.num))
}

// Equal reports whether two values have the same type and contents.
func (v Value) Equal(w Value) bool {
	if v.typ != w.typ {
		return false
	}
	switch v.typ {
	case TypeString:
		return v.AsString() == w.AsString()
	case TypeStrings:
		return equalSlices(v.AsStrings(), w.AsStrings())
	case TypeInt64s:
		return equalSlices(v.AsInt64s(), w.AsInt64s())
	case TypeFloat64s:
		return equalSlices(v.AsFloat64s(), w.AsFloat64s())
	case TypeBools:
		return equalSlices(v.AsBools(), w.AsBools())
	}
	return v.num == w.num
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clone returns a value that shares nothing mutable with v (slices are copied).
func (v Value) clone() Value {
	switch v.typ {
	case TypeStrings:
		return StringsValue(append([]string(nil), v.AsStrings()...))
	case TypeInt64s:
		return Int64sValue(append([]int64(nil), v.AsInt64s()...))
	case TypeFloat64s:
		return Float64sValue(append([]float64(nil), v.AsFloat64s()...))
	case TypeBools:
		return BoolsValue(append([]bool(nil), v.AsBools()...))
	}
	return v
}

// String formats the value for people (debug output, the stdout exporter); it allocates.
func (v Value) String() string {
	return string(v.AppendText(nil))
}

// AppendText appends the value as text: strings verbatim, numbers in Go syntax, slices as [a b c].
func (v Value) AppendText(b []byte) []byte {
	switch v.typ {
	case TypeString:
		return append(b, v.AsString()...)
	case TypeInt64:
		return strconv.AppendInt(b, v.AsInt64(), 10)
	case TypeFloat64:
		return strconv.AppendFloat(b, v.AsFloat64(), 'g', -1, 64)
	case TypeBool:
		return strconv.AppendBool(b, v.AsBool())
	case TypeStrings:
		return appendList(b, v.AsStrings(), func(b []byte, s string) []byte { return append(b, s...) })
	case TypeInt64s:
		return appendList(b, v.AsInt64s(), func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
	case TypeFloat64s:
		return appendList(b, v.AsFloat64s(), func(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'g', -1, 64) })
	case TypeBools:
		return appendList(b, v.AsBools(), strconv.AppendBool)
	}
	return b
}

func appendList[T any](b []byte, s []T, f func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, x := range s {
		if i > 0 {
			b = append(b, ' ')
		}
		b = f(b, x)
	}
	return append(b, ']')
}

// Attr is a key and a typed value: a span, event, link or resource attribute.
type Attr struct {
	Key   string
	Value Value
}

// String makes a string attribute.
func String(key, value string) Attr { return Attr{key, StringValue(value)} }

// Int64 makes an int64 attribute.
func Int64(key string, value int64) Attr { return Attr{key, Int64Value(value)} }

// Int makes an int64 attribute from an int.
func Int(key string, value int) Attr { return Attr{key, Int64Value(int64(value))} }

// Float64 makes a float64 attribute.
func Float64(key string, value float64) Attr { return Attr{key, Float64Value(value)} }

// Bool makes a bool attribute.
func Bool(key string, value bool) Attr { return Attr{key, BoolValue(value)} }

// Strings makes a []string attribute; the span shares the slice, so do not modify it afterwards.
func Strings(key string, value []string) Attr { return Attr{key, StringsValue(value)} }

// Int64s makes a []int64 attribute; the span shares the slice, so do not modify it afterwards.
func Int64s(key string, value []int64) Attr { return Attr{key, Int64sValue(value)} }

// Float64s makes a []float64 attribute; the span shares the slice, so do not modify it afterwards.
func Float64s(key string, value []float64) Attr { return Attr{key, Float64sValue(value)} }

// Bools makes a []bool attribute; the span shares the slice, so do not modify it afterwards.
func Bools(key string, value []bool) Attr { return Attr{key, BoolsValue(value)} }

// String formats the attribute as key=value.
func (a Attr) String() string { return a.Key + "=" + a.Value.String() }

// Equal reports whether both attributes have the same key and value.
func (a Attr) Equal(b Attr) bool { return a.Key == b.Key && a.Value.Equal(b.Value) }
