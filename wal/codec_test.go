package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
			// Whole spans: a trace's attributes come from slabs sized for it, which must not overlap.
			if !reflect.DeepEqual(*got[j], *traces[i][j]) {
				t.Fatalf("trace %d span %d:\n got %+v\nwant %+v", i, j, *got[j], *traces[i][j])
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

var updateEncoderGolden = flag.Bool("update-encoder", false, "rewrite testdata/encoder.golden with the current encoder's output")

// goldenBatches makes, from a fixed seed, batches of spans that exercise every field of the record format and the
// encoder's shortcuts: strings shared by address as the receivers share them, copies of the same texts, strings
// that occur once, trace runs from one span to past a hundred (parents in and out of the run, repeated span IDs),
// equal resources at different addresses and a nil one, nested values, events, links, causality. The last batch
// is encoded with a shared dictionary.
func goldenBatches() [][]*model.Span {
	rng := rand.New(rand.NewPCG(7, 11))
	keys := []string{"http.request.method", "http.route", "http.response.status_code", "user.id", "cloud.region",
		"net.peer.port", "db.system", "app.items", "peer.service", "error"}
	vals := []string{"GET", "POST", "/api/cart", "/api/checkout", "eu-west-1", "us-east-1", "postgresql", "redis", ""}
	names := []string{"GET /api/cart", "SELECT products", "grpc.Charge", "render", ""}
	res := []*model.Resource{
		{Service: "frontend", Attrs: []model.Attr{{Key: "host.name", Value: model.String("host-a")}}},
		{Service: "checkout"},
		{Service: "frontend", Attrs: []model.Attr{{Key: "host.name", Value: model.String("host-a")}}}, // equal to the first
		nil,
	}
	id := func() (s model.SpanID) {
		binary.LittleEndian.PutUint64(s[:], rng.Uint64()|1)
		return s
	}
	pick := func(ss []string) string {
		s := ss[rng.IntN(len(ss))]
		if rng.IntN(5) == 0 {
			s = strings.Clone(s) // the same text at another address
		}
		return s
	}
	value := func(depth int) model.Value { return model.Value{} }
	value = func(depth int) model.Value {
		switch k := rng.IntN(12); {
		case k < 4:
			return model.String(pick(vals))
		case k == 4:
			return model.String(fmt.Sprintf("user-%d", rng.IntN(100000))) // occurs once
		case k == 5:
			return model.Int(rng.Int64N(1<<40) - 1<<39)
		case k == 6:
			return model.Float(rng.Float64())
		case k == 7:
			return model.Bool(rng.IntN(2) == 0)
		case k == 8:
			return model.Bytes([]byte(fmt.Sprintf("b%d", rng.IntN(50))))
		case k == 9 && depth < 3:
			arr := make([]model.Value, 1+rng.IntN(3)) // not empty: the decoder gives nil for empty
			for i := range arr {
				arr[i] = value(depth + 1)
			}
			return model.Value{Type: model.TypeArray, Array: arr}
		case k == 10 && depth < 3:
			m := make([]model.Attr, 1+rng.IntN(3))
			for i := range m {
				m[i] = model.Attr{Key: pick(keys), Value: value(depth + 1)}
			}
			return model.Value{Type: model.TypeMap, Map: m}
		}
		return model.Value{}
	}
	attrs := func(n int) []model.Attr {
		var a []model.Attr
		for i := 0; i < n; i++ {
			a = append(a, model.Attr{Key: pick(keys), Value: value(0)})
		}
		return a
	}
	ref := func() model.EventRef {
		var r model.EventRef
		if rng.IntN(3) == 0 {
			binary.LittleEndian.PutUint64(r.TraceID[:], rng.Uint64()|1)
		}
		r.Unit, r.Seq = rng.Uint64()>>rng.IntN(64), rng.Uint32()>>rng.IntN(32)
		return r
	}
	var batches [][]*model.Span
	for _, size := range []int{1, 7, 150, 600, 40} {
		var batch []*model.Span
		for len(batch) < size {
			var tid model.TraceID
			binary.LittleEndian.PutUint64(tid[:], rng.Uint64()|1)
			runLen := 1 + rng.IntN([]int{3, 20, 140}[rng.IntN(3)])
			start := int64(1_700_000_000_000_000_000) + rng.Int64N(1e12)
			var ids []model.SpanID
			for i := 0; i < runLen && len(batch) < size; i++ {
				s := &model.Span{TraceID: tid, SpanID: id(), Name: pick(names), Kind: model.Kind(rng.IntN(6)),
					Start: start + rng.Int64N(1e9) - 5e8, Duration: rng.Int64N(1e10),
					StatusCode: model.StatusCode(rng.IntN(3)), Resource: res[rng.IntN(len(res))]}
				switch {
				case len(ids) > 0 && rng.IntN(4) != 0:
					s.ParentID = ids[rng.IntN(len(ids))]
				case rng.IntN(2) == 0:
					s.ParentID = id()
				}
				if len(ids) > 0 && rng.IntN(10) == 0 {
					s.SpanID = ids[rng.IntN(len(ids))] // a repeated span ID
				}
				ids = append(ids, s.SpanID)
				s.Attrs = attrs(rng.IntN(14))
				if rng.IntN(8) == 0 {
					s.StatusMessage = pick(vals)
				}
				if rng.IntN(3) == 0 {
					s.SpanResource, s.SpanType = pick(names), pick([]string{"http", "db", "rpc"})
				}
				if rng.IntN(2) == 0 {
					s.Scope = pick([]string{"loadgen", "otelhttp"})
					if rng.IntN(2) == 0 {
						s.ScopeVersion = "1.2.3"
					}
				}
				for range rng.IntN(3) {
					s.Events = append(s.Events, model.Event{Time: s.Start + rng.Int64N(1e6), Name: pick(names),
						Attrs: attrs(rng.IntN(3)), Unit: rng.Uint64() >> 40, Seq: rng.Uint32() >> 20, Cause: ref()})
				}
				for range rng.IntN(2) {
					var l model.Link
					binary.LittleEndian.PutUint64(l.TraceID[:], rng.Uint64())
					l.SpanID, l.TraceState, l.Attrs = id(), pick(vals), attrs(rng.IntN(2))
					s.Links = append(s.Links, l)
				}
				if rng.IntN(6) == 0 {
					s.TraceState = "weft=00000000000000aa:3"
				}
				s.Flags = model.Flags(rng.IntN(4))
				if rng.IntN(3) == 0 {
					s.Causality = model.Causality{Unit: rng.Uint64(), StartSeq: rng.Uint32(), EndUnit: rng.Uint64() >> 32,
						EndSeq: rng.Uint32(), StartCause: ref()}
				}
				batch = append(batch, s)
			}
		}
		batches = append(batches, batch)
	}
	return batches
}

// goldenDict is the shared dictionary of goldenBatches' last batch.
var goldenDict = []string{"GET", "http.route", "render", "host-a"}

// TestEncoderGolden holds the encoder's output to testdata/encoder.golden, written by the encoder as it was before
// its string table and trace runs were made faster: every batch of goldenBatches, encoded one after another by one
// Encoder (Reset in between, so that what it keeps across batches is exercised), must come out byte for byte the
// same. A change of the format must be deliberate: a new version that old segments still replay.
func TestEncoderGolden(t *testing.T) {
	batches := goldenBatches()
	var e Encoder
	var out []byte
	for i, batch := range batches {
		e.Reset()
		e.Shared = nil
		var shared []string
		if i == len(batches)-1 {
			e.Shared, shared = NewDict(goldenDict), goldenDict
		}
		for _, s := range batch {
			e.Add(s)
		}
		b := e.AppendTo(nil)
		bt, err := ParseBatch(b, shared)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		got, err := bt.All()
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		for k := range got {
			want := *batch[k]
			if want.Resource == nil {
				want.Resource = &model.Resource{}
			}
			if !reflect.DeepEqual(*got[k], want) || !reflect.DeepEqual(*got[k].Resource, *want.Resource) {
				t.Fatalf("batch %d span %d:\n got %+v\nwant %+v", i, k, *got[k], want)
			}
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	path := filepath.Join("testdata", "encoder.golden")
	if *updateEncoderGolden {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		i := 0
		for i < len(out) && i < len(want) && out[i] == want[i] {
			i++
		}
		t.Fatalf("encoded %d bytes, golden %d: first difference at byte %d", len(out), len(want), i)
	}
}
