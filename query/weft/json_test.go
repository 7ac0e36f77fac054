package weft

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/weftrace/weft/model"
)

// marshal is what encoding/json writes with HTML escaping off, without the trailing newline.
func marshal(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	odd := fixtureSpans()
	odd[0].Name = "tab\t\"quote\" \\ <html> & \u2028 \x00 \x7f \xff é 名"
	odd[0].Attrs = append(odd[0].Attrs,
		model.Attr{Key: "tiny", Value: model.Float(1e-9)},
		model.Attr{Key: "huge", Value: model.Float(-3e21)},
		model.Attr{Key: "nan", Value: model.Float(math.NaN())},
		model.Attr{Key: "empty", Value: model.Value{}},
		model.Attr{Key: "nested", Value: model.Value{Type: model.TypeMap, Map: []model.Attr{
			{Key: "z", Value: model.Array(model.Bool(false), model.Bytes([]byte("hi")))}, {Key: "a", Value: model.Int(-1)}}}},
	)
	for name, spans := range map[string][]*model.Span{"fixture": fixtureSpans(), "odd": odd, "big": bigTrace(500), "empty": nil} {
		var id model.TraceID
		if len(spans) > 0 {
			id = spans[0].TraceID
		}
		tr := EncodeTrace(id, spans)
		want := marshal(t, tr)
		if got := tr.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("%s: AppendJSON differs from encoding/json\n got %s\nwant %s", name, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\b\f\n\r\t\x00\x1f", "<>&", "\u2028\u2029", "\xff\xfe", "é名🙂", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendString(nil, s), marshal(t, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, x := range []float64{0, -0.0, 1, 0.1, 1e-6, 9.99e-7, 1e20, 1e21, -1.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		if got, want := appendFloat(nil, x), marshal(t, x); !bytes.Equal(got, want) {
			t.Fatalf("appendFloat(%v) = %s, want %s", x, got, want)
		}
	})
}

func BenchmarkAppendTraceJSON(b *testing.B) {
	spans := bigTrace(10000)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		t := EncodeTrace(spans[0].TraceID, spans)
		buf = t.AppendJSON(buf[:0])
	}
}
