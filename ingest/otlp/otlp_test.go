package otlp

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/weftrace/weft/loadgen"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/wal"
)

var update = flag.Bool("update", false, "rewrite testdata/request.pb from testdata/request.json")

func tid(s string) model.TraceID {
	var t model.TraceID
	hex.Decode(t[:], []byte(s))
	return t
}

func sid(s string) model.SpanID {
	var id model.SpanID
	hex.Decode(id[:], []byte(s))
	return id
}

// goldenSpans is what testdata/request.json and testdata/request.pb hold, in the model.
func goldenSpans() []*model.Span {
	matchmaker := &model.Resource{Service: "matchmaker", Attrs: []model.Attr{
		{Key: "host.name", Value: model.String("bar-1")},
		{Key: "process.pid", Value: model.Int(4242)},
	}}
	taster := &model.Resource{Service: "taster"}
	return []*model.Span{
		{
			TraceID: tid("5b8efff798038103d269b633813fc60c"), SpanID: sid("eee19b7ec3c1b174"), ParentID: sid("eee19b7ec3c1b173"),
			Name: "GET /pairings/{beer}", Kind: model.KindServer,
			Start: 1544712660000000000, Duration: 1e9,
			StatusCode: model.StatusError, StatusMessage: "no donut",
			Resource:     matchmaker,
			SpanResource: "GET /pairings/{beer}", SpanType: "web",
			Scope: "github.com/weftrace/weft/trace", ScopeVersion: "0.1.0",
			Attrs: []model.Attr{
				{Key: "http.request.method", Value: model.String("GET")},
				{Key: "http.route", Value: model.String("/pairings/{beer}")},
				{Key: "http.response.status_code", Value: model.Int(500)},
				{Key: "sample.ratio", Value: model.Float(0.25)},
				{Key: "cache.hit", Value: model.Bool(false)},
				{Key: "beer.names", Value: model.Array(model.String("Kölsch"), model.String("ビール"))},
				{Key: AttrDroppedAttributes, Value: model.Int(2)},
			},
			Events: []model.Event{
				{Time: 1544712660300000000, Name: "weft.fork", Seq: 2},
				{Time: 1544712660900000000, Name: "weft.join", Seq: 8, Cause: model.EventRef{Unit: 0xc3, Seq: 4}},
				{Time: 1544712660950000000, Name: "exception", Attrs: []model.Attr{{Key: "exception.message", Value: model.String("no donut for this beer")}}},
			},
			Links: []model.Link{{
				TraceID: tid("0af7651916cd43dd8448eb211c80319c"), SpanID: sid("b7ad6b7169203331"),
				Attrs: []model.Attr{{Key: "link.kind", Value: model.String("retry-of")}},
			}},
			TraceState: "weft=00000000000000a1:7,vendor=x",
			Causality:  model.Causality{Unit: 0xb2, StartSeq: 1, EndSeq: 9, StartCause: model.EventRef{Unit: 0xa1, Seq: 7}},
		},
		{
			TraceID: tid("5b8efff798038103d269b633813fc60c"), SpanID: sid("1111111111111111"), ParentID: sid("eee19b7ec3c1b174"),
			Name: "SELECT donuts", Kind: model.KindClient,
			Start: 1544712660100000000, Duration: 1e8,
			Resource:     matchmaker,
			SpanResource: "SELECT name FROM donuts WHERE beer = $1", SpanType: "db",
			Scope: "github.com/weftrace/weft/trace", ScopeVersion: "0.1.0",
			Attrs: []model.Attr{
				{Key: "db.system", Value: model.String("postgresql")},
				{Key: "db.statement", Value: model.String("SELECT name FROM donuts WHERE beer = $1")},
				{Key: "raw", Value: model.Bytes([]byte{1, 2, 3})},
			},
		},
		{
			TraceID: tid("5b8efff798038103d269b633813fc60c"), SpanID: sid("2222222222222222"),
			Name: "taste", Kind: model.KindInternal,
			Start: 1544712660400000000, Duration: 0,
			Resource: taster, Scope: "otel-go", Flags: model.FlagUnitary,
			Attrs: []model.Attr{{Key: "kv", Value: model.Value{Type: model.TypeMap, Map: []model.Attr{{Key: "a", Value: model.Int(-1)}}}}},
		},
	}
}

// diffSpans compares two span lists field by field and reports every difference.
func diffSpans(t *testing.T, got, want []*model.Span) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d spans, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := reflect.ValueOf(*got[i]), reflect.ValueOf(*want[i])
		for f := 0; f < w.NumField(); f++ {
			name := w.Type().Field(f).Name
			if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
				gv, wv := g.Field(f).Interface(), w.Field(f).Interface()
				if r, ok := gv.(*model.Resource); ok && r != nil {
					gv = *r
				}
				if r, ok := wv.(*model.Resource); ok && r != nil {
					wv = *r
				}
				t.Errorf("span %d (%s) %s:\n got  %+v\n want %+v", i, want[i].Name, name, gv, wv)
			}
		}
	}
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenJSON(t *testing.T) {
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON(readGolden(t, "request.json"), req); err != nil {
		t.Fatal(err)
	}
	if *update {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "request.pb"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := fromProto(req.GetResourceSpans())
	if d.rejected != 0 {
		t.Fatalf("rejected %d: %s", d.rejected, d.reason)
	}
	diffSpans(t, d.spans, goldenSpans())
	if d.spans[0].Resource != d.spans[1].Resource {
		t.Error("spans of one resource do not share one *model.Resource")
	}
}

func TestGoldenProto(t *testing.T) {
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalProto(readGolden(t, "request.pb"), req); err != nil {
		t.Fatal(err)
	}
	fromJSON := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON(readGolden(t, "request.json"), fromJSON); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(req, fromJSON) {
		t.Error("the JSON decoder and the official protobuf decoder disagree on the golden request")
	}
	d := fromProto(req.GetResourceSpans())
	diffSpans(t, d.spans, goldenSpans())
}

// TestEncodeRoundTrip: model → OTLP → OTLP JSON → model gives the same spans, causality included.
func TestEncodeRoundTrip(t *testing.T) {
	want := goldenSpans()
	js, err := MarshalJSON(Encode(want))
	if err != nil {
		t.Fatal(err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON(js, req); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	d := fromProto(req.GetResourceSpans())
	diffSpans(t, d.spans, want)

	b, err := proto.Marshal(Encode(want))
	if err != nil {
		t.Fatal(err)
	}
	if err := UnmarshalProto(b, req); err != nil {
		t.Fatal(err)
	}
	diffSpans(t, fromProto(req.GetResourceSpans()).spans, want)
}

func TestMarshalJSONShape(t *testing.T) {
	js, err := MarshalJSON(Encode(goldenSpans()[:1]))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"traceId":"5b8efff798038103d269b633813fc60c"`,
		`"spanId":"eee19b7ec3c1b174"`,
		`"startTimeUnixNano":"1544712660000000000"`,
		`"kind":2`,
		`{"key":"weft.unit","value":{"stringValue":"00000000000000b2"}}`,
		`"droppedAttributesCount":2`,
		`"Kölsch"`,
	} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("OTLP JSON lacks %s:\n%s", want, js)
		}
	}
}

func TestJSONErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not json", `{"resourceSpans":`, "not valid JSON"},
		{"trailing data", `{} {}`, "data after"},
		{"array instead of object", `[]`, "body: expected an object"},
		{"resourceSpans not array", `{"resourceSpans":{}}`, "resourceSpans: expected an array"},
		{"name is a number", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}`, "resourceSpans[0].scopeSpans[0].spans[0].name: expected a string, got a number"},
		{"bad hex trace id", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`, "spans[0].traceId: \"zz\" is not hex"},
		{"start time negative", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}`, "startTimeUnixNano: expected an unsigned 64-bit integer"},
		{"unknown kind", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_WHATEVER"}]}]}]}`, `kind: unknown value "SPAN_KIND_WHATEVER"`},
		{"int value not integer", `{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"1.5"}}]}}]}`, "resource.attributes[0].value.intValue: expected a 64-bit integer"},
		{"bool value a string", `{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"boolValue":"true"}}]}}]}`, "boolValue: expected true or false"},
		{"deep nesting", `{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":` + strings.Repeat(`{"arrayValue":{"values":[`, 40) + strings.Repeat(`]}}`, 40) + `}]}}]}`, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := UnmarshalJSON([]byte(tt.body), &coltracepb.ExportTraceServiceRequest{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRejectInvalidSpans(t *testing.T) {
	good := `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111","name":"ok"}`
	tests := []struct {
		name, span, want string
	}{
		{"zero trace id", `{"traceId":"00000000000000000000000000000000","spanId":"1111111111111111"}`, "traceId must be 16 bytes and not all zero"},
		{"short trace id", `{"traceId":"5b8e","spanId":"1111111111111111"}`, "traceId must be 16 bytes"},
		{"missing span id", `{"traceId":"5b8efff798038103d269b633813fc60c"}`, "spanId must be 8 bytes"},
		{"zero span id", `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000000"}`, "spanId must be 8 bytes and not all zero"},
		{"bad parent", `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111","parentSpanId":"11"}`, "parentSpanId must be 8 bytes"},
		{"bad link", `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111","links":[{"traceId":"00"}]}`, "links[0].traceId"},
		{"time past 2^63", `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111","startTimeUnixNano":"18446744073709551615"}`, "startTimeUnixNano and endTimeUnixNano must be below 2^63"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"resourceSpans":[{"scopeSpans":[{"spans":[` + good + `,` + tt.span + `]}]}]}`
			req := &coltracepb.ExportTraceServiceRequest{}
			if err := UnmarshalJSON([]byte(body), req); err != nil {
				t.Fatal(err)
			}
			d := fromProto(req.GetResourceSpans())
			if len(d.spans) != 1 || d.spans[0].Name != "ok" || d.rejected != 1 {
				t.Fatalf("kept %d spans, rejected %d; want the good one kept and the bad one rejected", len(d.spans), d.rejected)
			}
			if !strings.Contains(d.reason, "spans[1]: "+tt.want) {
				t.Errorf("reason %q, want it to name spans[1] and %q", d.reason, tt.want)
			}
		})
	}
}

func FuzzDecodeProto(f *testing.F) {
	f.Add(readGolden(f, "request.pb"))
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := UnmarshalProto(b, req); err != nil {
			return
		}
		checkDecoded(t, fromProto(req.GetResourceSpans()))
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add(readGolden(f, "request.json"))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"01"}]}]}]}`))
	f.Add([]byte(`{"resource_spans":[{"scope_spans":[{"spans":[{"kind":"SPAN_KIND_SERVER","status":{"code":2}}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := UnmarshalJSON(b, req); err != nil {
			return
		}
		checkDecoded(t, fromProto(req.GetResourceSpans()))
	})
}

// checkDecoded asserts the invariants every decoded span keeps, whatever the input.
func checkDecoded(t *testing.T, d decoded) {
	for _, s := range d.spans {
		if s.TraceID.IsZero() || s.SpanID.IsZero() {
			t.Fatalf("span with a zero ID was accepted: %+v", s)
		}
		if s.Duration < 0 || s.Start < 0 {
			t.Fatalf("negative time: %+v", s)
		}
		if s.Resource == nil {
			t.Fatal("span without resource")
		}
	}
	if d.rejected > 0 && d.reason == "" {
		t.Fatal("rejected spans without a reason")
	}
	// What was decoded encodes and decodes again to the same spans.
	if len(d.spans) > 0 {
		b, err := proto.Marshal(Encode(d.spans))
		if err != nil {
			t.Fatal(err)
		}
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := UnmarshalProto(b, req); err != nil {
			t.Fatal(err)
		}
		again := fromProto(req.GetResourceSpans())
		if len(again.spans) != len(d.spans) {
			t.Fatalf("re-decoding gave %d spans, want %d", len(again.spans), len(d.spans))
		}
	}
}

var sink []*model.Span

// realisticRequest builds an ExportTraceServiceRequest of traces of 5 to 50 spans with 10 attributes a span,
// like the load generator's, as protobuf bytes.
func realisticRequest(spans int) []byte {
	var ms []*model.Span
	res := []*model.Resource{
		{Service: "matchmaker", Attrs: []model.Attr{{Key: "host.name", Value: model.String("bar-1")}, {Key: "service.version", Value: model.String("1.4.2")}}},
		{Service: "taster", Attrs: []model.Attr{{Key: "host.name", Value: model.String("bar-2")}}},
	}
	for i := 0; i < spans; i++ {
		var t model.TraceID
		t[0], t[15] = byte(i/20+1), byte(i/20)
		s := &model.Span{
			TraceID: t, SpanID: model.SpanID{1, byte(i), 3, 4, 5, 6, 7, 8}, ParentID: model.SpanID{2, byte(i), 3, 4, 5, 6, 7, 8},
			Name: "GET /pairings/{beer}", Kind: model.KindServer, Start: 1700000000000000000 + int64(i)*1000, Duration: 1234567,
			Resource: res[i%2], Scope: "github.com/weftrace/weft/instrument/http", ScopeVersion: "0.1.0",
			Attrs: []model.Attr{
				{Key: "http.request.method", Value: model.String("GET")},
				{Key: "http.route", Value: model.String("/pairings/{beer}")},
				{Key: "url.path", Value: model.String(fmt.Sprintf("/pairings/ipa-%d", i%37))},
				{Key: "http.response.status_code", Value: model.Int(200)},
				{Key: "server.address", Value: model.String("matchmaker.local")},
				{Key: "server.port", Value: model.Int(8080)},
				{Key: "user_agent.original", Value: model.String("Mozilla/5.0 (X11; Linux x86_64)")},
				{Key: "network.protocol.version", Value: model.String("1.1")},
				{Key: "client.address", Value: model.String(fmt.Sprintf("10.0.%d.%d", i%7, i%200))},
				{Key: "pairing.score", Value: model.Float(0.87)},
			},
		}
		ms = append(ms, s)
	}
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: Encode(ms).ResourceSpans})
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkDecodeProto measures decoding an OTLP/HTTP protobuf body of 500 spans with 10 attributes each into
// model spans (protobuf unmarshal into the official types, conversion, causality extraction, normalisation).
func BenchmarkDecodeProto(b *testing.B) {
	const n = 500
	body := realisticRequest(n)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := UnmarshalProto(body, req); err != nil {
			b.Fatal(err)
		}
		sink = fromProto(req.GetResourceSpans()).spans
	}
	reportSpans(b, n, cpu0)
}

// BenchmarkDecodeJSON is the same batch as OTLP JSON.
func BenchmarkDecodeJSON(b *testing.B) {
	const n = 500
	req := &coltracepb.ExportTraceServiceRequest{}
	_ = UnmarshalProto(realisticRequest(n), req)
	js, _ := MarshalJSON(Encode(fromProto(req.GetResourceSpans()).spans))
	b.SetBytes(int64(len(js)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := UnmarshalJSON(js, req); err != nil {
			b.Fatal(err)
		}
		sink = fromProto(req.GetResourceSpans()).spans
	}
	reportSpans(b, n, cpu0)
}

// sameAsOfficial checks that DecodeProto gives exactly what the official types and the conversion give.
func sameAsOfficial(t *testing.T, b []byte) {
	t.Helper()
	req := &coltracepb.ExportTraceServiceRequest{}
	officialErr := UnmarshalProto(b, req)
	fast, fastErr := decodeWire(b, nil)
	if (officialErr == nil) != (fastErr == nil) {
		t.Fatalf("official decoder error %v, DecodeProto error %v", officialErr, fastErr)
	}
	if officialErr != nil {
		return
	}
	official := fromProto(req.GetResourceSpans())
	if official.rejected != fast.rejected || official.reason != fast.reason {
		t.Fatalf("rejected %d %q by the official path, %d %q by DecodeProto", official.rejected, official.reason, fast.rejected, fast.reason)
	}
	diffSpans(t, fast.spans, official.spans)

	// Decoded into memory that held another request's spans, it is the same.
	w := &wireDecoder{intern: make(map[string]string)}
	if _, err := w.decode(primeRequest(t)); err != nil {
		t.Fatal(err)
	}
	w.reset(true)
	reused, err := w.decode(b)
	if err != nil {
		t.Fatalf("decoding again into reused memory: %v", err)
	}
	if reused.rejected != fast.rejected || reused.reason != fast.reason {
		t.Fatalf("rejected %d %q decoding into reused memory, %d %q the first time", reused.rejected, reused.reason, fast.rejected, fast.reason)
	}
	diffSpans(t, reused.spans, official.spans)
}

var (
	primeOnce sync.Once
	prime     []byte
)

// primeRequest is a request whose spans fill a decoder's blocks with everything a span can have, before the
// decoder is reset and reused.
func primeRequest(t testing.TB) []byte {
	primeOnce.Do(func() { prime = richRequest(t, 40, 7) })
	return prime
}

func TestDecodeProtoMatchesOfficial(t *testing.T) {
	sameAsOfficial(t, readGolden(t, "request.pb"))
	sameAsOfficial(t, realisticRequest(200))
	// The load generator's batch: more attributes than one block holds, and values that repeat and that do not.
	lg, _, err := loadgen.Batch(5, 600)
	if err != nil {
		t.Fatal(err)
	}
	sameAsOfficial(t, lg)
	// Invalid IDs, merged repeated messages, an unknown field and an out-of-range kind.
	var b []byte
	span := func(fields ...[]byte) []byte {
		var s []byte
		for _, f := range fields {
			s = append(s, f...)
		}
		return s
	}
	bytesF := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	varintF := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	tidB := bytes.Repeat([]byte{7}, 16)
	ok := span(bytesF(1, tidB), bytesF(2, []byte{1, 2, 3, 4, 5, 6, 7, 8}), varintF(6, 1<<33|2), bytesF(99, []byte("x")),
		bytesF(15, span(varintF(3, 2))), bytesF(15, bytesF(2, []byte("merged"))),
		bytesF(9, span(bytesF(1, []byte("a")), bytesF(2, bytesF(5, bytesF(1, varintF(3, 1)))), bytesF(2, bytesF(5, bytesF(1, varintF(2, 1)))))))
	badID := span(bytesF(1, tidB[:15]), bytesF(2, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	badLink := span(bytesF(1, tidB), bytesF(2, []byte{1, 2, 3, 4, 5, 6, 7, 9}), bytesF(13, bytesF(1, tidB)))
	scope := span(bytesF(2, ok), bytesF(2, badID), bytesF(2, badLink), bytesF(1, bytesF(1, []byte("scope"))))
	rs := span(bytesF(2, scope), bytesF(1, bytesF(1, span(bytesF(1, []byte("service.name")), bytesF(2, bytesF(1, []byte("svc")))))))
	b = bytesF(1, rs)
	sameAsOfficial(t, b)
	fast, _ := decodeWire(b, nil)
	if len(fast.spans) != 1 || fast.rejected != 2 || fast.spans[0].Kind != model.KindServer || fast.spans[0].StatusMessage != "merged" {
		t.Errorf("decoded %+v", fast)
	}
}

func FuzzDecodeProtoMatchesOfficial(f *testing.F) {
	f.Add(readGolden(f, "request.pb"))
	f.Add(realisticRequest(3))
	for _, b := range wireShapes() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsOfficial(t, b)
	})
}

// BenchmarkDecodeProtoWire is BenchmarkDecodeProto's batch through DecodeProto, the OTLP/HTTP path.
func BenchmarkDecodeProtoWire(b *testing.B) {
	const n = 500
	body := realisticRequest(n)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		spans, _, _, err := DecodeProto(body)
		if err != nil {
			b.Fatal(err)
		}
		sink = spans
	}
	reportSpans(b, n, cpu0)
}

// cpuTime is the CPU time this process has used, user and system, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timeDecode runs decode, which decodes a body of size bytes holding n spans, b.N times, and reports spans per
// second of time and of CPU.
func timeDecode(b *testing.B, size, n int, decode func()) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		decode()
	}
	reportSpans(b, n, cpu0)
}

// reportSpans reports spans per second of wall time and per second of CPU time; on a shared machine the second
// is the steadier figure, as it does not count time spent waiting for a core.
func reportSpans(b *testing.B, n int, cpu0 time.Duration) {
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "spans/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n*b.N)/cpu.Seconds(), "spans/cpu-s")
	}
}

// TestDecodersCopy: the handlers release the body's buffer once decoded, so nothing decoded may alias it.
func TestDecodersCopy(t *testing.T) {
	for _, name := range []string{"request.pb", "request.json"} {
		body := readGolden(t, name)
		var d decoded
		if name == "request.pb" {
			var err error
			if d, err = decodeWire(body, nil); err != nil {
				t.Fatal(err)
			}
		} else {
			req := &coltracepb.ExportTraceServiceRequest{}
			if err := UnmarshalJSON(body, req); err != nil {
				t.Fatal(err)
			}
			d = fromProto(req.GetResourceSpans())
		}
		for i := range body {
			body[i] = 0xff
		}
		diffSpans(t, d.spans, goldenSpans())
	}
}

// BenchmarkDecodeLoadgenBatch decodes the load generator's own request (about 1000 spans in traces of 5 to 50,
// 10 attributes a span, 12 services), the shape the whole-path figures in docs/bench/ingest-path.md are taken with.
func BenchmarkDecodeLoadgenBatch(b *testing.B) {
	body, n, err := loadgen.Batch(1, 1000)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		spans, _, _, err := DecodeProto(body)
		if err != nil {
			b.Fatal(err)
		}
		sink = spans
	}
	reportSpans(b, n, cpu0)
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() { sink, _, _, _ = DecodeProto(body) }))/float64(n), "allocs/span")
}

// BenchmarkDecodeRetained is BenchmarkDecodeLoadgenBatch with the heap of a server: the spans of the last 200
// requests (200,000 spans, as weft serve's head holds before its block is written) stay alive, so that the
// collector marks a realistic live heap and decoding writes into memory that is not hot in the cache.
func BenchmarkDecodeRetained(b *testing.B) {
	body, n, err := loadgen.Batch(1, 1000)
	if err != nil {
		b.Fatal(err)
	}
	kept := make([][]*model.Span, 200)
	for i := range kept {
		if kept[i], _, _, err = DecodeProto(body); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		spans, _, _, err := DecodeProto(body)
		if err != nil {
			b.Fatal(err)
		}
		kept[i%len(kept)] = spans
	}
	reportSpans(b, n, cpu0)
}

// BenchmarkDecodeRecycled is BenchmarkDecodeLoadgenBatch as the receivers decode for a consumer that lets go of
// the spans (the pipeline in front of the embedded store): each request is decoded into the blocks of the one
// before, taken back by release.
func BenchmarkDecodeRecycled(b *testing.B) {
	body, n, err := loadgen.Batch(1, 1000)
	if err != nil {
		b.Fatal(err)
	}
	decode := func() {
		w := newWireDecoder(nil)
		d, err := w.decode(body)
		if err != nil {
			b.Fatal(err)
		}
		sink = d.spans
		w.release(true)
	}
	timeDecode(b, len(body), n, decode)
	b.ReportMetric(testing.AllocsPerRun(1, decode)/float64(n), "allocs/span")
}

// TestDecodedAttrsAreSeparate: the spans of a request share attribute blocks, so growing one span's attributes
// (as ExtractCausality and Normalize may) must never write into another's.
func TestDecodedAttrsAreSeparate(t *testing.T) {
	body, _, err := loadgen.Batch(9, 500)
	if err != nil {
		t.Fatal(err)
	}
	spans, _, _, err := DecodeProto(body)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]model.Attr, len(spans))
	for i, s := range spans {
		want[i] = slices.Clone(s.Attrs)
	}
	for _, s := range spans {
		if len(s.Attrs) != cap(s.Attrs) {
			t.Fatalf("span attributes with len %d cap %d: an append would write into the block", len(s.Attrs), cap(s.Attrs))
		}
		s.Attrs = append(s.Attrs, model.Attr{Key: "added", Value: model.Int(1)})
	}
	for i, s := range spans {
		if !reflect.DeepEqual(s.Attrs[:len(s.Attrs)-1], want[i]) {
			t.Fatalf("span %d attributes changed by appends to others: %v, want %v", i, s.Attrs, want[i])
		}
	}
}

// encodingBatch is the pipeline's batch in short: each span is encoded for the log as it is decoded.
type encodingBatch struct{ e *wal.Encoder }

func (b encodingBatch) Add(s *model.Span) { b.e.Add(s) }

// BenchmarkDecodeEncode is BenchmarkDecodeRecycled with each span encoded for the write-ahead log as it is decoded
// (wal.Encoder.Add through the consumer's batch, then Finish), as weft serve receives an OTLP/HTTP request: the
// decoding and encoding CPU of a span, without the log's writes.
func BenchmarkDecodeEncode(b *testing.B) {
	body, n, err := loadgen.Batch(1, 1000)
	if err != nil {
		b.Fatal(err)
	}
	var size int
	decode := func() {
		batch := encodingBatch{wal.NewEncoder()}
		w := newWireDecoder(batch)
		d, err := w.decode(body)
		if err != nil {
			b.Fatal(err)
		}
		sink = d.spans
		size = len(batch.e.Finish().Payload())
		w.release(true)
	}
	timeDecode(b, len(body), n, decode)
	b.ReportMetric(float64(size)/float64(n), "B/span")
}
