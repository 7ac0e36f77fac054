package weft

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/weftrace/weft/model"
)

// decodeColumnar decodes a columnar answer as a client would and turns it back into a Trace.
func decodeColumnar(t *testing.T, body []byte) *Trace {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var c Columnar
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decoding columnar answer: %v", err)
	}
	if c.Format != ColumnarFormat {
		t.Fatalf("format %q, want %q", c.Format, ColumnarFormat)
	}
	tr, err := c.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestColumnarRoundTrip(t *testing.T) {
	odd := fixtureSpans()
	odd[0].Name = "tab\t\"quote\" \\ <html> & \u2028 \x00 é 名 🧵"
	odd[1].ParentID = sid(77) // a parent missing from the trace
	odd[2].Attrs = append(odd[2].Attrs,
		model.Attr{Key: "tiny", Value: model.Float(1e-9)},
		model.Attr{Key: "huge", Value: model.Int(math.MaxInt64)},
		model.Attr{Key: "nan", Value: model.Float(math.NaN())},
		model.Attr{Key: "empty", Value: model.Value{}},
		model.Attr{Key: "same", Value: model.String("GET")},
	)
	odd[4].SpanID = odd[3].SpanID // a duplicate span ID
	odd[4].ParentID = odd[4].SpanID
	for name, spans := range map[string][]*model.Span{
		"traceA": fixtureSpans()[:3], "traceB": fixtureSpans()[3:], "odd": odd, "big": bigTrace(500), "empty": nil,
	} {
		t.Run(name, func(t *testing.T) {
			var id model.TraceID
			if len(spans) > 0 {
				id = spans[0].TraceID
			}
			tr := EncodeTrace(id, spans)
			want := tr.AppendJSON(nil)
			c := tr.ToColumnar()
			if len(c.Spans.ID) != len(tr.Spans) {
				t.Fatalf("%d span IDs, want %d", len(c.Spans.ID), len(tr.Spans))
			}
			got := decodeColumnar(t, marshal(t, c)).AppendJSON(nil)
			if !bytes.Equal(got, want) {
				t.Errorf("columnar round trip differs:\n got %s\nwant %s", got, want)
			}
			fast := tr.AppendColumnar(nil)
			got = decodeColumnar(t, fast).AppendJSON(nil)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendColumnar round trip differs:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestColumnarIsSmaller(t *testing.T) {
	spans := bigTrace(2000)
	tr := EncodeTrace(spans[0].TraceID, spans)
	full, col := len(tr.AppendJSON(nil)), len(tr.AppendColumnar(nil))
	if col*2 > full {
		t.Errorf("columnar answer %d bytes, regular %d: want at most half", col, full)
	}
}

func TestColumnarEndpoint(t *testing.T) {
	h := newHandler(t)
	path := Prefix + "traces/" + traceA.String()
	_, regular := get(t, h, path)
	rec, body := get(t, h, path+"?format=columnar")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	got := append(decodeColumnar(t, body).AppendJSON(nil), '\n')
	if !bytes.Equal(got, regular) {
		t.Errorf("columnar answer decodes to\n%s\nregular answer\n%s", got, regular)
	}
	rec, body = get(t, h, path+"?format=xml")
	if rec.Code != 400 || !strings.Contains(string(body), `format \"xml\"`) {
		t.Errorf("format=xml: %d %s", rec.Code, body)
	}
}

func TestColumnarDecodeRejectsBadInput(t *testing.T) {
	spans := fixtureSpans()[:3]
	tr := EncodeTrace(spans[0].TraceID, spans)
	good := marshal(t, tr.ToColumnar())
	for name, edit := range map[string]func(c *Columnar){
		"short column":   func(c *Columnar) { c.Spans.Name = c.Spans.Name[:1] },
		"string index":   func(c *Columnar) { c.Spans.Name[0] = 9999 },
		"parent index":   func(c *Columnar) { c.Spans.Parent[0] = 9999 },
		"causality":      func(c *Columnar) { c.Spans.Causality[0] = []any{json.Number("1")} },
		"attribute":      func(c *Columnar) { c.Spans.Attributes[0] = []any{json.Number("0")} },
		"unit span":      func(c *Columnar) { c.Units[0].Spans = []int{-2} },
		"event ref":      func(c *Columnar) { c.More[1].Events[1][5] = "x" },
		"not a number":   func(c *Columnar) { c.Spans.Attributes[0][0] = "key" },
		"start not a ns": func(c *Columnar) { c.Start = "soon" },
	} {
		dec := json.NewDecoder(bytes.NewReader(good))
		dec.UseNumber()
		var c Columnar
		if err := dec.Decode(&c); err != nil {
			t.Fatal(err)
		}
		edit(&c)
		if _, err := c.Decode(); err == nil || !strings.Contains(err.Error(), "columnar trace") {
			t.Errorf("%s: error %v, want one naming the columnar trace", name, err)
		}
	}
}
