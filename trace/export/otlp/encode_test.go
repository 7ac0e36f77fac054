package otlp

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/weftrace/weft/trace"
)

var update = flag.Bool("update", false, "rewrite testdata/request.binpb from the current encoder")

// fixture is a batch that exercises every field the encoder writes: two resources (one through a span's own
// service), two scopes, every attribute type, events with and without causality, links, status, dropped counts.
func fixture() []*trace.SpanData {
	res := &trace.Resource{Service: "matchmaker", Attrs: []trace.Attr{
		trace.String("service.version", "1.4.2"), trace.String("service.name", "ignored"), trace.String("host.name", "brewery-1"),
	}}
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	other := trace.TraceID{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}
	root := &trace.SpanData{
		TraceID: tid, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		Name: "GET /pairings/{beer}", Kind: trace.KindServer,
		Start: 1_700_000_000_000_000_000, End: 1_700_000_000_250_000_000,
		StatusCode: trace.StatusError, StatusMessage: "no donut pairs with a stout",
		Resource: res, Scope: "weft/http", SpanResource: "GET /pairings/{beer}", SpanType: "web",
		Attrs: []trace.Attr{
			trace.String("http.route", "/pairings/{beer}"), trace.Int64("http.response.status_code", 500),
			trace.Float64("load", 0.75), trace.Bool("cache.hit", false),
			trace.Strings("tags", []string{"a", "b"}), trace.Int64s("ports", []int64{80, -443}),
			trace.Float64s("weights", []float64{1.5, -2}), trace.Bools("flags", []bool{true, false}),
			trace.String("long", string(bytes.Repeat([]byte("x"), 300))),
		},
		Events: []trace.Event{
			{Time: 1_700_000_000_010_000_000, Name: trace.EventFork, Unit: 0xa596dd19732a1e13, Seq: 2},
			{Time: 1_700_000_000_200_000_000, Name: trace.EventJoin, Unit: 0xa596dd19732a1e13, Seq: 5,
				Cause: trace.EventRef{EventID: trace.EventID{Unit: 0x3d3899d57e98f17f, Seq: 2}}},
			{Time: 1_700_000_000_210_000_000, Name: "exception", Unit: 0x1111, Seq: 6,
				Attrs: []trace.Attr{trace.String("exception.message", "boom")}},
			{Time: 1_700_000_000_220_000_000, Name: "plain"},
		},
		Links:      []trace.Link{{SpanContext: trace.SpanContext{TraceID: other, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceState: "foo=1", Flags: trace.FlagSampled}, Attrs: []trace.Attr{trace.String("link.kind", "follows")}}},
		TraceState: "weft=9c1f0e22aa03b7d4:5,congo=t61", Flags: trace.FlagSampled, Priority: 1,
		Unit: 0xa596dd19732a1e13, StartSeq: 1, EndSeq: 8,
		StartCause:   trace.EventRef{EventID: trace.EventID{Unit: 0x9c1f0e22aa03b7d4, Seq: 5}},
		DroppedAttrs: 3, DroppedEvents: 2, DroppedLinks: 1,
	}
	child := &trace.SpanData{
		TraceID: tid, SpanID: trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}, ParentID: root.SpanID,
		Name: "SELECT donuts", Kind: trace.KindClient, Start: 1_700_000_000_020_000_000, End: 1_700_000_000_120_000_000,
		Resource: res, Scope: "weft/sql", Service: "postgres", SpanResource: "SELECT name FROM donuts", SpanType: "db",
		Flags: trace.FlagSampled, Unit: 0x3d3899d57e98f17f, StartSeq: 1, EndSeq: 2, EndUnit: 0x7777,
		StartCause: trace.EventRef{TraceID: other, EventID: trace.EventID{Unit: 0xa596dd19732a1e13, Seq: 2}},
		Unitary:    true,
	}
	sibling := &trace.SpanData{
		TraceID: tid, SpanID: trace.SpanID{2, 2, 2, 2, 2, 2, 2, 2}, ParentID: root.SpanID,
		Name: "score", Kind: trace.KindInternal, Start: 1_700_000_000_130_000_000, End: 1_700_000_000_140_000_000,
		Resource: res, Scope: "weft/http", StatusCode: trace.StatusOK,
	}
	orphan := &trace.SpanData{TraceID: other, SpanID: trace.SpanID{3, 3, 3, 3, 3, 3, 3, 3}, Name: "no resource"}
	return []*trace.SpanData{root, child, sibling, orphan}
}

// TestGoldenRequest pins the encoding of the fixture. The bytes are checked against the official OTLP types in
// trace/export/otlpgrpc (TestEncodingDecodesWithOfficialTypes), which decodes this same file.
func TestGoldenRequest(t *testing.T) {
	got := AppendRequest(nil, fixture())
	path := filepath.Join("testdata", "request.binpb")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encoding changed (%d bytes, golden %d); run go test -update after checking it with the otlpgrpc module's tests", len(got), len(want))
	}
}

func TestAppendRequestAppends(t *testing.T) {
	prefix := []byte("prefix")
	got := AppendRequest(append([]byte(nil), prefix...), fixture())
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], AppendRequest(nil, fixture())) {
		t.Error("AppendRequest does not append to the buffer it is given")
	}
	if n := len(AppendRequest(nil, nil)); n != 0 {
		t.Errorf("no spans encoded as %d bytes", n)
	}
}

// TestEndMessageWidens checks the length placeholder at the sizes where a varint grows.
func TestEndMessageWidens(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 2_100_000} {
		b, m := beginMessage([]byte{0xAA}, 7)
		body := bytes.Repeat([]byte{0x5A}, n)
		b = append(b, body...)
		b = endMessage(b, m)
		want := appendVarint(appendTag([]byte{0xAA}, 7, wireBytes), uint64(n))
		want = append(want, body...)
		if !bytes.Equal(b, want) {
			t.Errorf("length %d encoded wrongly", n)
		}
	}
}

func TestAppendRequestAllocations(t *testing.T) {
	spans := fixture()
	buf := make([]byte, 0, 64<<10)
	if n := testing.AllocsPerRun(50, func() { buf = AppendRequest(buf[:0], spans) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

// TestManyGroups covers a batch with more resources and scopes than the encoder's small array: the grouping must
// be the same as with few.
func TestManyGroups(t *testing.T) {
	var spans []*trace.SpanData
	for i := range 40 {
		f := fixture()
		f[0].Scope = string(rune('a' + i%13))
		spans = append(spans, f...)
	}
	var stack [8]group
	p := split(stack[:0], spans)
	if p.order == nil {
		t.Fatal("many groups not sorted")
	}
	seen := 0
	for k, g := range p.groups {
		for _, j := range p.order[p.start[k]:p.start[k+1]] {
			if d := spans[j]; d.Scope != g.scope || resourceOf(d) != g.res {
				t.Fatalf("span %d in the wrong group", j)
			}
			seen++
		}
	}
	if seen != len(spans) {
		t.Fatalf("%d of %d spans grouped", seen, len(spans))
	}
	if len(AppendRequest(nil, spans)) < len(spans)*50 {
		t.Error("spans missing from the request")
	}
}

// benchSpans is a batch of n spans from one provider, as the batcher hands them over: a server span with a few
// attributes and a client child, alternately.
func benchSpans(n int) []*trace.SpanData {
	f := fixture()
	res := f[0].Resource
	spans := make([]*trace.SpanData, 0, n)
	for i := 0; len(spans) < n; i++ {
		d := *f[1+i%2]
		d.Resource = res
		d.SpanID[0] = byte(i)
		spans = append(spans, &d)
	}
	return spans
}

func BenchmarkAppendRequest(b *testing.B) {
	spans := benchSpans(1000)
	buf := AppendRequest(nil, spans)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = AppendRequest(buf[:0], spans)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}
