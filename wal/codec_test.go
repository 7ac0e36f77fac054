package wal

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
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

// TestEncoderCacheSurvivesGenerationWrap: after 2^32 batches an encoder's string cache starts again empty, so an
// entry from long ago is never taken for a current one.
func TestEncoderCacheSurvivesGenerationWrap(t *testing.T) {
	g := spangen.New(6, time.Now().UnixNano())
	first, second := g.Spans(50), g.Spans(50)
	var e Encoder
	for _, s := range first {
		e.Add(s)
	}
	e.gen = math.MaxUint32 - 2 // as if 2^32 batches went by; first's entries stay in the cache
	for range 3 {
		e.Reset()
	}
	for _, s := range second {
		e.Add(s)
	}
	got, err := DecodeSpans(e.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].Name != second[i].Name || !reflect.DeepEqual(got[i].Attrs, second[i].Attrs) {
			t.Fatalf("span %d decoded as %q %v, want %q %v", i, got[i].Name, got[i].Attrs, second[i].Name, second[i].Attrs)
		}
	}
}
