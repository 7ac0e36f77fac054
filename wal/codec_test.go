package wal

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
)

func TestCodecRoundTrip(t *testing.T) {
	g := spangen.New(1, time.Now().UnixNano())
	g.Extras = true
	tests := []struct {
		name  string
		spans []*model.Span
	}{
		{"one span", g.Trace()[:1]},
		{"one trace", g.Trace()},
		{"many traces with extras", g.Spans(2000)},
		{"nil resource and zero fields", []*model.Span{{TraceID: model.TraceID{1}, SpanID: model.SpanID{2}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendSpans(nil, tc.spans)
			got, err := DecodeSpans(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.spans) {
				t.Fatalf("decoded %d spans, want %d", len(got), len(tc.spans))
			}
			for i := range got {
				want := *tc.spans[i]
				if want.Resource == nil {
					want.Resource = &model.Resource{}
				}
				if !reflect.DeepEqual(*got[i], want) || !reflect.DeepEqual(*got[i].Resource, *want.Resource) {
					t.Fatalf("span %d:\n got %+v\nwant %+v", i, *got[i], want)
				}
			}
		})
	}
}

func TestCodecRange(t *testing.T) {
	g := spangen.New(2, time.Now().UnixNano())
	var e Encoder
	type rng struct {
		from   Pos
		end, n int
	}
	var ranges []rng
	var traces [][]*model.Span
	for i := 0; i < 20; i++ {
		tr := g.Trace()
		from := e.Pos()
		for _, s := range tr {
			e.Add(s)
		}
		ranges = append(ranges, rng{from, e.Pos().Rec, len(tr)})
		traces = append(traces, tr)
	}
	bt, err := ParseBatch(e.AppendTo(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range ranges {
		got, err := bt.Range(r.from, r.end)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != r.n {
			t.Fatalf("trace %d: %d spans, want %d", i, len(got), r.n)
		}
		for j := range got {
			if got[j].SpanID != traces[i][j].SpanID || got[j].ParentID != traces[i][j].ParentID || got[j].Start != traces[i][j].Start {
				t.Fatalf("trace %d span %d differs", i, j)
			}
		}
	}
}

func TestDecodeRejectsTruncation(t *testing.T) {
	g := spangen.New(3, time.Now().UnixNano())
	b := AppendSpans(nil, g.Trace())
	for n := 0; n < len(b); n++ {
		if _, err := DecodeSpans(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: err %v, want ErrCorrupt", n, len(b), err)
		}
	}
}

func FuzzDecodeSpans(f *testing.F) {
	g := spangen.New(4, 1e18)
	g.Extras = true
	for i := 0; i < 4; i++ {
		f.Add(AppendSpans(nil, g.Trace()))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeSpans(b)
		if err != nil {
			return
		}
		// What decodes must encode and decode to the same spans.
		again, err := DecodeSpans(AppendSpans(nil, spans))
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if len(again) != len(spans) {
			t.Fatalf("re-decoded %d spans, want %d", len(again), len(spans))
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	g := spangen.New(5, time.Now().UnixNano())
	spans := g.Spans(1000)
	var e Encoder
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		for _, s := range spans {
			e.Add(s)
		}
		buf = e.AppendTo(buf[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
	b.ReportMetric(float64(len(buf))/float64(len(spans)), "B/span")
}

func BenchmarkDecode(b *testing.B) {
	g := spangen.New(5, time.Now().UnixNano())
	spans := g.Spans(1000)
	buf := AppendSpans(nil, spans)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSpans(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

// TestDecodeSurvivesCorruption flips random bytes of valid batches: the decoder must answer an error or spans,
// never panic or loop.
func TestDecodeSurvivesCorruption(t *testing.T) {
	g := spangen.New(6, time.Now().UnixNano())
	g.Extras = true
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 1000; i++ {
		b := AppendSpans(nil, g.Trace())
		for k := 0; k < 1+rng.IntN(4); k++ {
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		DecodeSpans(b)
	}
}

// TestEncoderCacheAcrossBatches: the encoder's string cache outlives Reset and holds no strings, so an entry made
// for one batch must never give a reference in another where the table holds something else there: batches
// that share strings in a different order, copies of strings with other bytes, a shared dictionary.
func TestEncoderCacheAcrossBatches(t *testing.T) {
	g := spangen.New(6, time.Now().UnixNano())
	first := g.Spans(50)
	second := g.Spans(50)
	slices.Reverse(second)
	// The same texts as first's names and values, in new memory.
	copies := g.Spans(0)
	for _, s := range first {
		c := *s
		c.Name = strings.Clone(s.Name)
		c.Attrs = slices.Clone(s.Attrs)
		for i := range c.Attrs {
			c.Attrs[i].Value.Str = strings.Clone(c.Attrs[i].Value.Str)
		}
		copies = append(copies, &c)
	}
	var mixed []*model.Span
	for i := range first {
		mixed = append(mixed, first[len(first)-1-i], copies[i])
	}
	dict := NewDict([]string{first[3].Name, "GET", first[7].Attrs[0].Key})
	var e Encoder
	for i, batch := range [][]*model.Span{first, second, first, copies, mixed, second, first} {
		shared := i >= 4
		e.Reset()
		e.Shared = nil
		if shared {
			e.Shared = dict
		}
		for _, s := range batch {
			e.Add(s)
		}
		var d []string
		if shared {
			d = dict.Strings()
		}
		bt, err := ParseBatch(e.AppendTo(nil), d)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		got, err := bt.All()
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		for k := range got {
			if got[k].Name != batch[k].Name || !reflect.DeepEqual(got[k].Attrs, batch[k].Attrs) {
				t.Fatalf("batch %d span %d decoded as %q %v, want %q %v", i, k, got[k].Name, got[k].Attrs, batch[k].Name, batch[k].Attrs)
			}
		}
	}
}
