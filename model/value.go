package model

import (
	"math"
	"strconv"
)

// Type is the type of an attribute value.
type Type uint8

const (
	TypeEmpty Type = iota
	TypeString
	TypeInt
	TypeFloat
	TypeBool
	TypeBytes
	TypeArray // Array holds the elements, each with its own type
	TypeMap   // Map holds the entries (OTLP kvlist), rare
)

var typeNames = [...]string{"empty", "string", "int64", "float64", "bool", "bytes", "array", "map"}

// String names the type as the query APIs do ("string", "int64", "float64", "bool", ...).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "empty"
}

// Value is a typed attribute value. Scalars sit in Str or Num without allocation; only arrays and maps reach
// for the slices.
type Value struct {
	Type  Type
	Str   string // TypeString; TypeBytes holds raw bytes here
	Num   uint64 // TypeInt as int64 bits, TypeFloat as IEEE-754 bits, TypeBool as 0 or 1
	Array []Value
	Map   []Attr
}

// Attr is a key and its value.
type Attr struct {
	Key   string
	Value Value
}

// String makes a string value.
func String(s string) Value { return Value{Type: TypeString, Str: s} }

// Int makes an int64 value.
func Int(i int64) Value { return Value{Type: TypeInt, Num: uint64(i)} }

// Float makes a float64 value.
func Float(f float64) Value { return Value{Type: TypeFloat, Num: math.Float64bits(f)} }

// Bool makes a bool value.
func Bool(b bool) Value {
	v := Value{Type: TypeBool}
	if b {
		v.Num = 1
	}
	return v
}

// Bytes makes a bytes value.
func Bytes(b []byte) Value { return Value{Type: TypeBytes, Str: string(b)} }

// Array makes an array value.
func Array(vs ...Value) Value { return Value{Type: TypeArray, Array: vs} }

// Int returns the value as int64 (0 for other types).
func (v Value) Int() int64 { return int64(v.Num) }

// Float returns the value as float64; ints are converted.
func (v Value) Float() float64 {
	switch v.Type {
	case TypeFloat:
		return math.Float64frombits(v.Num)
	case TypeInt:
		return float64(int64(v.Num))
	}
	return 0
}

// Bool returns the value as bool.
func (v Value) Bool() bool { return v.Num != 0 }

// AsString renders any value as text, as Jaeger and Zipkin show tags and search matches them.
func (v Value) AsString() string {
	switch v.Type {
	case TypeString, TypeBytes:
		return v.Str
	case TypeInt:
		return strconv.FormatInt(int64(v.Num), 10)
	case TypeFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case TypeBool:
		return strconv.FormatBool(v.Num != 0)
	case TypeArray:
		b := []byte{'['}
		for i, e := range v.Array {
			if i > 0 {
				b = append(b, ',')
			}
			if e.Type == TypeString {
				b = strconv.AppendQuote(b, e.Str)
			} else {
				b = append(b, e.AsString()...)
			}
		}
		return string(append(b, ']'))
	case TypeMap:
		b := []byte{'{'}
		for i, a := range v.Map {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, a.Key)
			b = append(b, ':')
			b = append(b, a.Value.AsString()...)
		}
		return string(append(b, '}'))
	}
	return ""
}

// Equal reports whether two values have the same type and contents.
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type || v.Str != o.Str || v.Num != o.Num || len(v.Array) != len(o.Array) || len(v.Map) != len(o.Map) {
		return false
	}
	for i := range v.Array {
		if !v.Array[i].Equal(o.Array[i]) {
			return false
		}
	}
	for i := range v.Map {
		if v.Map[i].Key != o.Map[i].Key || !v.Map[i].Value.Equal(o.Map[i].Value) {
			return false
		}
	}
	return true
}
