package jaeger

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

	"github.com/weftrace/weft/model"
)

var update = flag.Bool("update", false, "rewrite the golden payloads in testdata/")

const t0us = int64(1732000000000000) // 2024-11-19, in Unix microseconds

func strTag(k, v string) *jaegerthrift.Tag {
	return &jaegerthrift.Tag{Key: k, VType: jaegerthrift.TagType_STRING, VStr: &v}
}
func longTag(k string, v int64) *jaegerthrift.Tag {
	return &jaegerthrift.Tag{Key: k, VType: jaegerthrift.TagType_LONG, VLong: &v}
}
func boolTag(k string, v bool) *jaegerthrift.Tag {
	return &jaegerthrift.Tag{Key: k, VType: jaegerthrift.TagType_BOOL, VBool: &v}
}
func doubleTag(k string, v float64) *jaegerthrift.Tag {
	return &jaegerthrift.Tag{Key: k, VType: jaegerthrift.TagType_DOUBLE, VDouble: &v}
}
func binaryTag(k string, v []byte) *jaegerthrift.Tag {
	return &jaegerthrift.Tag{Key: k, VType: jaegerthrift.TagType_BINARY, VBinary: v}
}

// goldenBatch is the batch behind testdata/batch.binary.thrift and batch.compact.thrift, built with Jaeger's own
// generated types as jaeger-client-go builds it: a 128-bit trace of a server span, a database call that names its
// parent only by a CHILD_OF reference, a failed Redis call with an error log and a FOLLOWS_FROM reference to
// another trace, and an unsampled span with the largest IDs and non-ASCII names whose only reference is a
// FOLLOWS_FROM.
func goldenBatch() *jaegerthrift.Batch {
	const hi, lo = int64(0x6763a5c400000000), int64(-0x75c39f082e770706) // lo is 0x8a3c60f7d188f8fa
	seq := int64(7)
	return &jaegerthrift.Batch{
		Process: &jaegerthrift.Process{
			ServiceName: "matchmaker",
			Tags: []*jaegerthrift.Tag{
				strTag("hostname", "brewery-01"), strTag("ip", "10.0.0.7"),
				strTag("jaeger.version", "Go-2.30.0"), strTag("client-uuid", "5f1e2d3c4b5a6978"),
			},
		},
		SeqNo: &seq,
		Spans: []*jaegerthrift.Span{
			{
				TraceIdHigh: hi, TraceIdLow: lo, SpanId: 0x1111111111111111, OperationName: "HTTP GET /pair",
				Flags: 1, StartTime: t0us, Duration: 25_000,
				Tags: []*jaegerthrift.Tag{
					strTag("span.kind", "server"), strTag("http.method", "GET"), longTag("http.status_code", 200),
					strTag("http.url", "/pair?beer=stout"), strTag("sampler.type", "const"), boolTag("sampler.param", true),
				},
				Logs: []*jaegerthrift.Log{{Timestamp: t0us + 1_000, Fields: []*jaegerthrift.Tag{
					strTag("event", "cache miss"), strTag("key", "stout"),
				}}},
			},
			{
				TraceIdHigh: hi, TraceIdLow: lo, SpanId: 0x2222222222222222, OperationName: "SELECT donuts",
				References: []*jaegerthrift.SpanRef{{
					RefType: jaegerthrift.SpanRefType_CHILD_OF, TraceIdHigh: hi, TraceIdLow: lo, SpanId: 0x1111111111111111,
				}},
				Flags: 3, StartTime: t0us + 1_000, Duration: 7_500,
				Tags: []*jaegerthrift.Tag{
					strTag("span.kind", "client"), strTag("db.statement", "SELECT name FROM donuts WHERE style = $1"),
					strTag("db.type", "sql"), longTag("db.rows", 3), doubleTag("ratio", 0.75),
					binaryTag("payload", []byte{0xde, 0xad, 0xbe, 0xef}),
				},
			},
			{
				TraceIdHigh: hi, TraceIdLow: lo, SpanId: 0x3333333333333333, ParentSpanId: 0x1111111111111111,
				OperationName: "redis GET",
				References: []*jaegerthrift.SpanRef{
					{RefType: jaegerthrift.SpanRefType_CHILD_OF, TraceIdHigh: hi, TraceIdLow: lo, SpanId: 0x1111111111111111},
					{RefType: jaegerthrift.SpanRefType_FOLLOWS_FROM, TraceIdLow: 0x99, SpanId: 0x4444},
				},
				Flags: 1, StartTime: t0us + 9_000, Duration: 1_200,
				Tags: []*jaegerthrift.Tag{boolTag("error", true), strTag("span.kind", "client")},
				Logs: []*jaegerthrift.Log{{Timestamp: t0us + 9_500, Fields: []*jaegerthrift.Tag{
					strTag("event", "error"), strTag("message", "dial tcp 10.0.0.5:6379: connection refused"),
					strTag("error.kind", "*net.OpError"),
				}}},
			},
			{
				TraceIdLow: -1, SpanId: -2, OperationName: "bière.apparier 🍺",
				References: []*jaegerthrift.SpanRef{{
					RefType: jaegerthrift.SpanRefType_FOLLOWS_FROM, TraceIdLow: -1, SpanId: 0x1234,
				}},
				Flags: 0, StartTime: t0us + 5, Duration: 0,
				Tags: []*jaegerthrift.Tag{strTag("note", "日本語のテキスト"), strTag("vide", "")},
				Logs: []*jaegerthrift.Log{{Timestamp: t0us + 6, Fields: []*jaegerthrift.Tag{
					strTag("message", "dégustation terminée"),
				}}},
			},
		},
	}
}

// encode writes a batch with Apache Thrift's own protocol writers.
func encode(t testing.TB, b *jaegerthrift.Batch, compact bool) []byte {
	t.Helper()
	buf := thrift.NewTMemoryBuffer()
	var p thrift.TProtocol = thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{})
	if compact {
		p = thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{})
	}
	ctx := context.Background()
	if err := b.Write(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

type wantEvent struct {
	time  int64
	name  string
	attrs map[string]string
}

type wantLink struct{ traceID, spanID, refType string }

type wantSpan struct {
	traceID, spanID, parentID string
	name, resource, typ       string
	kind                      model.Kind
	start, duration           int64
	status                    model.StatusCode
	statusMsg                 string
	attrs                     map[string]string // key → type:AsString
	events                    []wantEvent
	links                     []wantLink
}

const t0 = t0us * 1000

func goldenWant() []wantSpan {
	const tid = "6763a5c4000000008a3c60f7d188f8fa"
	return []wantSpan{
		{
			traceID: tid, spanID: "1111111111111111", parentID: "0000000000000000", name: "HTTP GET /pair",
			resource: "GET /pair", typ: "web", kind: model.KindServer, start: t0, duration: 25_000_000,
			attrs: map[string]string{
				"http.method": "string:GET", "http.status_code": "int64:200", "http.url": "string:/pair?beer=stout",
				"sampler.type": "string:const", "sampler.param": "bool:true",
			},
			events: []wantEvent{{t0 + 1_000_000, "cache miss", map[string]string{"key": "string:stout"}}},
		},
		{
			traceID: tid, spanID: "2222222222222222", parentID: "1111111111111111", name: "SELECT donuts",
			resource: "SELECT name FROM donuts WHERE style = $1", typ: "db", kind: model.KindClient, start: t0 + 1_000_000, duration: 7_500_000,
			attrs: map[string]string{
				"db.statement": "string:SELECT name FROM donuts WHERE style = $1", "db.type": "string:sql",
				"db.rows": "int64:3", "ratio": "float64:0.75", "payload": "bytes:\xde\xad\xbe\xef", flagsAttr: "int64:3",
			},
		},
		{
			traceID: tid, spanID: "3333333333333333", parentID: "1111111111111111", name: "redis GET",
			kind: model.KindClient, start: t0 + 9_000_000, duration: 1_200_000,
			status: model.StatusError, statusMsg: "dial tcp 10.0.0.5:6379: connection refused",
			attrs: map[string]string{},
			events: []wantEvent{{t0 + 9_500_000, "error", map[string]string{
				"message": "string:dial tcp 10.0.0.5:6379: connection refused", "error.kind": "string:*net.OpError",
			}}},
			links: []wantLink{{"00000000000000000000000000000099", "0000000000004444", "follows_from"}},
		},
		{
			traceID: "0000000000000000ffffffffffffffff", spanID: "fffffffffffffffe", parentID: "0000000000001234",
			name: "bière.apparier 🍺", start: t0 + 5_000,
			attrs: map[string]string{"note": "string:日本語のテキスト", "vide": "string:", flagsAttr: "int64:0"},
			events: []wantEvent{{t0 + 6_000, "dégustation terminée", map[string]string{
				"message": "string:dégustation terminée",
			}}},
		},
	}
}

func typedAttrs(attrs []model.Attr) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.Key] = a.Value.Type.String() + ":" + a.Value.AsString()
	}
	return m
}

func checkMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: missing %q", what, k)
		} else if g != v {
			t.Errorf("%s: %q = %q, want %q", what, k, g, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %q = %q", what, k, v)
		}
	}
}

func checkSpans(t *testing.T, got []*model.Span, want []wantSpan) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d spans, want %d", len(got), len(want))
	}
	for i, w := range want {
		s := got[i]
		check := func(field string, g, w any) {
			t.Helper()
			if g != w {
				t.Errorf("span %d %s = %v, want %v", i, field, g, w)
			}
		}
		check("TraceID", s.TraceID.String(), w.traceID)
		check("SpanID", s.SpanID.String(), w.spanID)
		check("ParentID", s.ParentID.String(), w.parentID)
		check("Name", s.Name, w.name)
		check("Kind", s.Kind, w.kind)
		check("SpanResource", s.SpanResource, w.resource)
		check("SpanType", s.SpanType, w.typ)
		check("Start", s.Start, w.start)
		check("Duration", s.Duration, w.duration)
		check("StatusCode", s.StatusCode, w.status)
		check("StatusMessage", s.StatusMessage, w.statusMsg)
		check("Service", s.Service(), "matchmaker")
		checkMap(t, "span attrs", typedAttrs(s.Attrs), w.attrs)
		if len(s.Events) != len(w.events) {
			t.Errorf("span %d: %d events, want %d", i, len(s.Events), len(w.events))
		} else {
			for j, we := range w.events {
				e := s.Events[j]
				check("event time", e.Time, we.time)
				check("event name", e.Name, we.name)
				checkMap(t, "event attrs", typedAttrs(e.Attrs), we.attrs)
			}
		}
		if len(s.Links) != len(w.links) {
			t.Errorf("span %d: %d links, want %d", i, len(s.Links), len(w.links))
		} else {
			for j, wl := range w.links {
				l := s.Links[j]
				check("link trace", l.TraceID.String(), wl.traceID)
				check("link span", l.SpanID.String(), wl.spanID)
				checkMap(t, "link attrs", typedAttrs(l.Attrs), map[string]string{refTypeAttr: "string:" + wl.refType})
			}
		}
	}
	r := got[0].Resource
	for _, s := range got {
		if s.Resource != r {
			t.Fatal("the spans of one batch do not share one Resource")
		}
	}
	checkMap(t, "resource attrs", typedAttrs(r.Attrs), map[string]string{
		"host.name": "string:brewery-01", "ip": "string:10.0.0.7", "client-uuid": "string:5f1e2d3c4b5a6978",
		"telemetry.sdk.name": "string:jaeger", "telemetry.sdk.language": "string:go", "telemetry.sdk.version": "string:2.30.0",
	})
}

// golden returns a testdata file, first rewriting it from gen when -update is given; without -update it checks
// that gen still writes the stored bytes.
func golden(t *testing.T, name string, gen func() []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, gen(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(gen(), b) {
		t.Fatalf("%s differs from what its generator writes now; run go test -update if the change is intended", path)
	}
	return b
}

func TestGoldenBinary(t *testing.T) {
	body := golden(t, "batch.binary.thrift", func() []byte { return encode(t, goldenBatch(), false) })
	spans, err := decodeBatch(body, false)
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, spans, goldenWant())
}

func TestGoldenCompact(t *testing.T) {
	body := golden(t, "batch.compact.thrift", func() []byte { return encode(t, goldenBatch(), true) })
	spans, err := decodeBatch(body, true)
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, spans, goldenWant())
}

// TestManySpans decodes more attributes than one slab holds, with logs read through the same slab and a span
// larger than a slab in the middle, and checks that each span and event kept its own.
func TestManySpans(t *testing.T) {
	b := benchBatch()
	for i, s := range b.Spans {
		s.Logs = []*jaegerthrift.Log{{Timestamp: t0us + int64(i), Fields: []*jaegerthrift.Tag{
			strTag("event", fmt.Sprintf("log %d", i)), longTag("i", int64(i)), strTag("x", "y"),
		}}}
	}
	for i := 0; i < 3000; i++ {
		b.Spans[505].Tags = append(b.Spans[505].Tags, longTag(fmt.Sprintf("k%04d", i), int64(i)))
	}
	for _, compact := range []bool{false, true} {
		spans, err := decodeBatch(encode(t, b, compact), compact)
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) != 1000 {
			t.Fatalf("%d spans", len(spans))
		}
		for i, s := range spans {
			attrs := typedAttrs(s.Attrs)
			n := 9 // 10 tags less span.kind
			if i == 505 {
				n += 3000
				if attrs["k2999"] != "int64:2999" {
					t.Fatalf("span 505: k2999 = %q", attrs["k2999"])
				}
			}
			want := fmt.Sprintf("string:/pair/%d?beer=stout&n=%d", i%10%4, i/10)
			if len(attrs) != n || attrs["http.url"] != want {
				t.Fatalf("span %d: %d attributes, http.url %q; want %d and %q", i, len(attrs), attrs["http.url"], n, want)
			}
			if len(s.Events) != 1 || s.Events[0].Name != fmt.Sprintf("log %d", i) ||
				typedAttrs(s.Events[0].Attrs)["i"] != fmt.Sprintf("int64:%d", i) || len(s.Events[0].Attrs) != 2 {
				t.Fatalf("span %d: events %+v", i, s.Events)
			}
		}
	}
}
