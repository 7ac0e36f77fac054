package otlpgrpc

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlp"
)

var update = flag.Bool("update", false, "rewrite testdata/request.json")

// TestEncodingDecodesWithOfficialTypes decodes the library encoder's golden request (trace/export/otlp's
// testdata/request.binpb) with the official OTLP Go types and compares it, as protojson, with testdata/request.json.
func TestEncodingDecodesWithOfficialTypes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "otlp", "testdata", "request.binpb"))
	if err != nil {
		t.Fatal(err)
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.ProtoReflect().GetUnknown()) != 0 {
		t.Error("the request has fields the official types do not know")
	}
	got, err := protojson.MarshalOptions{Multiline: true, Indent: " "}.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	// protojson's output is deliberately unstable in spacing; normalise it through the compact form.
	got = normalise(t, got)
	path := filepath.Join("testdata", "request.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, normalise(t, want)) {
		t.Errorf("decoded request changed:\n%s", got)
	}
}

func normalise(t *testing.T, b []byte) []byte {
	t.Helper()
	var req coltracepb.ExportTraceServiceRequest
	if err := protojson.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	out, err := protojson.MarshalOptions{}.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := 0; i < len(out); i++ { // one resource span per line keeps diffs readable
		buf.WriteByte(out[i])
		if out[i] == '}' && i+1 < len(out) && out[i+1] == ',' {
			buf.WriteString(",\n")
			i++
		}
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestFixtureRoundTrip encodes the fixture and checks every field after decoding with the official types.
func TestFixtureRoundTrip(t *testing.T) {
	spans := fixture()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(otlp.AppendRequest(nil, spans), &req); err != nil {
		t.Fatal(err)
	}
	checkDecoded(t, spans, &req)
}

// FuzzOTLPRoundTrip encodes spans built from arbitrary values and decodes them with the official OTLP types:
// whatever the library writes must decode to exactly what it was given.
func FuzzOTLPRoundTrip(f *testing.F) {
	f.Add("pair", "http.route", "/pairings/{beer}", int64(-1), 0.5, true, "exception", uint64(0xa596dd19732a1e13), uint32(7), uint8(2), "matchmaker", "weft/http", "foo=1", int64(1700000000000000000), int64(250))
	f.Add("", "", "", int64(0), 0.0, false, "", uint64(0), uint32(0), uint8(0), "", "", "", int64(0), int64(0))
	f.Add(string(bytes.Repeat([]byte("n"), 300)), "k", "\xff\xfe", int64(1)<<62, -1e308, false, "e", uint64(1), uint32(1<<31), uint8(9), "s", "", "", int64(-5), int64(-3))
	f.Fuzz(func(t *testing.T, name, key, sval string, ival int64, fval float64, bval bool, event string, unit uint64, seq uint32, kind uint8, service, scope, tracestate string, start, dur int64) {
		res := &trace.Resource{Service: service, Attrs: []trace.Attr{trace.String(key, sval)}}
		d := &trace.SpanData{
			TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(seq)}, SpanID: trace.SpanID{9, 8, 7, 6, 5, 4, 3, byte(unit)},
			Name: name, Kind: trace.Kind(kind % 6), Start: start, End: start + dur, Resource: res, Scope: scope,
			StatusCode: trace.StatusCode(kind % 3), StatusMessage: sval, TraceState: tracestate, Flags: trace.TraceFlags(kind),
			SpanResource: sval, SpanType: key, Unitary: bval,
			Attrs: []trace.Attr{trace.String(key, sval), trace.Int64(key, ival), trace.Float64(key, fval), trace.Bool(key, bval),
				trace.Strings(key, []string{sval, name}), trace.Int64s(key, []int64{ival}), trace.Float64s(key, []float64{fval}),
				trace.Bools(key, []bool{bval})},
			Events: []trace.Event{{Time: start, Name: event, Unit: unit ^ 1, Seq: seq, Attrs: []trace.Attr{trace.Int64(key, ival)},
				Cause: trace.EventRef{EventID: trace.EventID{Unit: unit, Seq: seq}}}},
			Unit: unit, StartSeq: seq, EndSeq: seq + 1, EndUnit: unit >> 1,
			StartCause:   trace.EventRef{TraceID: trace.TraceID{15: byte(kind)}, EventID: trace.EventID{Unit: unit >> 3, Seq: seq}},
			DroppedAttrs: int(kind), DroppedEvents: int(seq % 5), DroppedLinks: int(unit % 3),
		}
		if dur > 0 {
			d.ParentID = trace.SpanID{1, 1, 1, 1, 1, 1, 1, byte(dur)}
			d.Links = []trace.Link{{SpanContext: trace.SpanContext{TraceID: d.TraceID, SpanID: d.ParentID, TraceState: tracestate, Flags: 1}, Attrs: []trace.Attr{trace.Bool(key, bval)}}}
		}
		other := &trace.SpanData{TraceID: d.TraceID, SpanID: trace.SpanID{7, 7, 7, 7, 7, 7, 7, 7}, Name: event, Resource: res, Service: name, Scope: key}
		spans := []*trace.SpanData{d, other}
		var req coltracepb.ExportTraceServiceRequest
		if err := (proto.UnmarshalOptions{}).Unmarshal(otlp.AppendRequest(nil, spans), &req); err != nil {
			// The official decoder checks that strings are UTF-8; weft's encoder, like OTel's, writes them as given.
			if !utf8Clean(spans) {
				return
			}
			t.Fatal(err)
		}
		checkDecoded(t, spans, &req)
	})
}

func utf8Clean(spans []*trace.SpanData) bool {
	var b []byte
	for _, d := range spans {
		b = append(b, d.Name...)
		b = append(b, d.Scope...)
		b = append(b, d.ServiceName()...)
		b = append(b, d.StatusMessage...)
		b = append(b, d.TraceState...)
		b = append(b, d.SpanResource...)
		b = append(b, d.SpanType...)
		for _, a := range d.Resource.Attrs {
			b = append(b, a.Key...)
			b = append(b, a.Value.String()...)
		}
		for _, a := range d.Attrs {
			b = append(b, a.Key...)
			b = append(b, a.Value.String()...)
		}
		for _, e := range d.Events {
			b = append(b, e.Name...)
		}
	}
	return utf8.Valid(b)
}
