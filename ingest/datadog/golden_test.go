package datadog

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/weftrace/weft/model"
)

var update = flag.Bool("update", false, "rewrite the golden payloads in testdata/")

const t0 = int64(1732000000000000000) // 2024-11-19, in Unix nanoseconds

// goldenTraces are the traces behind testdata/traces.v04.msgpack, traces.v05.msgpack and traces.v03.json: a
// 128-bit trace (upper half in _dd.p.tid) across two services with a failed Redis call, and a 64-bit trace with
// the largest trace ID and non-ASCII names.
func goldenTraces() [][]ddSpan {
	// As dd-trace-go does, only the chunk's first span carries _dd.p.tid; the decoder gives its upper half of the
	// trace ID to the rest of the chunk.
	tid := map[string]string{"env": "prod", "version": "1.4.2"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range tid {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	return [][]ddSpan{
		{
			{
				Service: "matchmaker", Name: "http.request", Resource: "GET /pair", Type: "web",
				TraceID: 0x8a3c60f7d188f8fa, SpanID: 0x1111111111111111, Start: t0, Duration: 25_000_000,
				Meta: with(map[string]string{
					"_dd.p.tid": "6763a5c400000000", "_dd.p.dm": "-1", "span.kind": "server", "http.method": "GET",
					"http.url": "/pair?beer=stout", "http.status_code": "200", "language": "go",
				}),
				Metrics: map[string]float64{"_sampling_priority_v1": 1, "_dd.top_level": 1, "process_id": 4242},
			},
			{
				Service: "matchmaker-postgres", Name: "postgres.query", Type: "sql",
				Resource: "SELECT name FROM donuts WHERE style = $1",
				TraceID:  0x8a3c60f7d188f8fa, SpanID: 0x2222222222222222, ParentID: 0x1111111111111111,
				Start: t0 + 1_000_000, Duration: 7_500_000,
				Meta:    with(map[string]string{"span.kind": "client", "db.system": "postgresql", "out.host": "db.internal"}),
				Metrics: map[string]float64{"db.row_count": 3},
			},
			{
				Service: "matchmaker", Name: "redis.command", Resource: "GET", Type: "redis",
				TraceID: 0x8a3c60f7d188f8fa, SpanID: 0x3333333333333333, ParentID: 0x1111111111111111,
				Start: t0 + 9_000_000, Duration: 1_200_000, Error: 1,
				Meta: with(map[string]string{
					"span.kind": "client", "error.msg": "dial tcp 10.0.0.5:6379: connection refused",
					"error.type": "*net.OpError", "error.stack": "goroutine 1 [running]:\nmain.pair()",
				}),
			},
		},
		{
			{
				Service: "dégustateur", Name: "bière.apparier", Resource: "GET /données/🍺", Type: "http",
				TraceID: 0xffffffffffffffff, SpanID: 0x0102030405060708, Start: t0 + 5, Duration: 0,
				Meta:    map[string]string{"env": "staging", "note": "日本語のテキスト"},
				Metrics: map[string]float64{"score": -2.5},
			},
		},
	}
}

// wantSpan is what a golden span must decode to.
type wantSpan struct {
	traceID, spanID, parentID string
	name, resource, typ       string
	kind                      model.Kind
	start, duration           int64
	status                    model.StatusCode
	statusMsg                 string
	service                   string
	attrs                     map[string]string // key → Value.AsString()
	resAttrs                  map[string]string
}

var goldenHeader = header{lang: "go", langVersion: "go1.26.0", tracerVersion: "v1.70.1"}

func goldenWant() []wantSpan {
	res := func(env, version string) map[string]string {
		m := map[string]string{
			attrSDKName: "datadog", attrSDKLanguage: "go", attrSDKVersion: "v1.70.1", attrRuntimeVersion: "go1.26.0",
		}
		if env != "" {
			m[attrEnv] = env
		}
		if version != "" {
			m[attrVersion] = version
		}
		return m
	}
	const tid = "6763a5c4000000008a3c60f7d188f8fa"
	return []wantSpan{
		{
			traceID: tid, spanID: "1111111111111111", parentID: "0000000000000000",
			name: "http.request", resource: "GET /pair", typ: "web", kind: model.KindServer,
			start: t0, duration: 25_000_000, service: "matchmaker",
			attrs: map[string]string{
				"_dd.p.dm": "-1", "http.method": "GET", "http.url": "/pair?beer=stout", "http.status_code": "200",
				"language": "go", "_sampling_priority_v1": "1", "_dd.top_level": "1", "process_id": "4242",
			},
			resAttrs: res("prod", "1.4.2"),
		},
		{
			traceID: tid, spanID: "2222222222222222", parentID: "1111111111111111",
			name: "postgres.query", resource: "SELECT name FROM donuts WHERE style = $1", typ: "sql",
			kind: model.KindClient, start: t0 + 1_000_000, duration: 7_500_000, service: "matchmaker-postgres",
			attrs:    map[string]string{"db.system": "postgresql", "out.host": "db.internal", "db.row_count": "3"},
			resAttrs: res("prod", "1.4.2"),
		},
		{
			traceID: tid, spanID: "3333333333333333", parentID: "1111111111111111",
			name: "redis.command", resource: "GET", typ: "redis", kind: model.KindClient,
			start: t0 + 9_000_000, duration: 1_200_000, service: "matchmaker",
			status: model.StatusError, statusMsg: "dial tcp 10.0.0.5:6379: connection refused",
			attrs: map[string]string{
				"error.msg": "dial tcp 10.0.0.5:6379: connection refused", "error.type": "*net.OpError",
				"error.stack": "goroutine 1 [running]:\nmain.pair()",
			},
			resAttrs: res("prod", "1.4.2"),
		},
		{
			traceID: "0000000000000000ffffffffffffffff", spanID: "0102030405060708", parentID: "0000000000000000",
			name: "bière.apparier", resource: "GET /données/🍺", typ: "http",
			kind:  model.KindClient, // from the type, as the span has no span.kind
			start: t0 + 5, service: "dégustateur",
			attrs:    map[string]string{"note": "日本語のテキスト", "score": "-2.5"},
			resAttrs: res("staging", ""),
		},
	}
}

func attrMap(attrs []model.Attr) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.Key] = a.Value.AsString()
	}
	return m
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
		check("SpanResource", s.SpanResource, w.resource)
		check("SpanType", s.SpanType, w.typ)
		check("Kind", s.Kind, w.kind)
		check("Start", s.Start, w.start)
		check("Duration", s.Duration, w.duration)
		check("StatusCode", s.StatusCode, w.status)
		check("StatusMessage", s.StatusMessage, w.statusMsg)
		check("Service", s.Service(), w.service)
		checkMap(t, i, "attrs", attrMap(s.Attrs), w.attrs)
		if s.Resource != nil {
			checkMap(t, i, "resource attrs", attrMap(s.Resource.Attrs), w.resAttrs)
		}
	}
}

func checkMap(t *testing.T, i int, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("span %d %s: missing %q", i, what, k)
		} else if g != v {
			t.Errorf("span %d %s: %q = %q, want %q", i, what, k, g, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("span %d %s: unexpected %q = %q", i, what, k, v)
		}
	}
}

// golden returns a testdata file, first rewriting it from gen when -update is given. Without -update it also
// checks that gen still produces the stored bytes, so the files and the structure they come from cannot drift.
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
	if g := gen(); !bytes.Equal(g, b) {
		t.Fatalf("%s differs from what its generator writes now; run go test -update if the change is intended", path)
	}
	return b
}

func TestGoldenV04(t *testing.T) {
	body := golden(t, "traces.v04.msgpack", func() []byte { return encodeV04(t, goldenTraces()) })
	spans, err := decodeV04(body, goldenHeader)
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, spans, goldenWant())
	checkSharedResources(t, spans)
}

func TestGoldenV05(t *testing.T) {
	body := golden(t, "traces.v05.msgpack", func() []byte { return encodeV05(t, goldenTraces()) })
	spans, err := decodeV05(body, goldenHeader)
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, spans, goldenWant())
	checkSharedResources(t, spans)
}

func TestGoldenV03JSON(t *testing.T) {
	body := golden(t, "traces.v03.json", func() []byte { return encodeJSON(t, goldenTraces()) })
	if !isJSON("application/json", body) || !isJSON("", body) {
		t.Fatal("the JSON payload is not recognised as JSON")
	}
	spans, err := decodeJSON(body, goldenHeader)
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, spans, goldenWant())
	checkSharedResources(t, spans)
}

// checkSharedResources: spans of one service, env and version share one *Resource, and others do not.
func checkSharedResources(t *testing.T, spans []*model.Span) {
	t.Helper()
	if spans[0].Resource != spans[2].Resource {
		t.Error("spans 0 and 2 (matchmaker, prod, 1.4.2) do not share a Resource")
	}
	if spans[0].Resource == spans[1].Resource || spans[0].Resource == spans[3].Resource {
		t.Error("spans of different services share a Resource")
	}
}

// ddTraceGoPayload is a /v0.4 payload laid out as dd-trace-go writes it (its msgp-generated encoder): the field
// order name, service, resource, type, start, duration, meta, meta_struct, metrics, span_id, trace_id, parent_id,
// error, then span_links and span_events, with meta_struct's values as msgpack bin.
func ddTraceGoPayload(t testing.TB) []byte {
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := func(v string) { must(e.EncodeString(v)) }
	must(e.EncodeArrayLen(1))
	must(e.EncodeArrayLen(1))
	must(e.EncodeMapLen(16))
	s("name")
	s("grpc.server")
	s("service")
	s("taster")
	s("resource")
	s("/taster.Taster/Rate")
	s("type")
	s("rpc")
	s("start")
	must(e.EncodeInt(t0))
	s("duration")
	must(e.EncodeInt(3_000_000))
	s("meta")
	must(e.EncodeMapLen(5))
	s("_dd.p.tid")
	s("67a1b2c300000000")
	s("span.kind")
	s("server")
	s("rpc.grpc.full_method")
	s("/taster.Taster/Rate")
	s("runtime-id")
	s("6f1e2d3c-0000-4000-8000-000000000001")
	s("error.message")
	s("rating failed")
	s("meta_struct")
	must(e.EncodeMapLen(1))
	s("_dd.stack")
	must(e.EncodeBytes([]byte{0x81, 0xa1, 'x', 0x01}))
	s("metrics")
	must(e.EncodeMapLen(2))
	s("_sampling_priority_v1")
	must(e.EncodeFloat64(2))
	s("_dd.top_level")
	must(e.EncodeInt(1)) // a metric that an encoder shrank to an integer
	s("span_id")
	must(e.EncodeUint(0xabcdef0123456789))
	s("trace_id")
	must(e.EncodeUint(0x0fedcba987654321))
	s("parent_id")
	must(e.EncodeUint(0x1000000000000001))
	s("error")
	must(e.EncodeInt(1))
	s("span_links")
	must(e.EncodeArrayLen(1))
	must(e.EncodeMapLen(5))
	s("trace_id")
	must(e.EncodeUint(0x0fedcba987654321))
	s("trace_id_high")
	must(e.EncodeUint(0x67a1b2c300000000))
	s("span_id")
	must(e.EncodeUint(0x5555))
	s("attributes")
	must(e.EncodeMapLen(1))
	s("link.kind")
	s("retry")
	s("flags")
	must(e.EncodeUint(0x80000001))
	s("span_events")
	must(e.EncodeArrayLen(1))
	must(e.EncodeMapLen(3))
	s("name")
	s("exception")
	s("time_unix_nano")
	must(e.EncodeUint(uint64(t0 + 2_000_000)))
	s("attributes")
	must(e.EncodeMapLen(3))
	s("exception.message")
	must(e.EncodeMapLen(2))
	s("type")
	must(e.EncodeInt(0))
	s("string_value")
	s("rating failed")
	s("exception.escaped")
	must(e.EncodeMapLen(2))
	s("type")
	must(e.EncodeInt(1))
	s("bool_value")
	must(e.EncodeBool(true))
	s("scores")
	must(e.EncodeMapLen(2))
	s("type")
	must(e.EncodeInt(4))
	s("array_value")
	must(e.EncodeMapLen(1))
	s("values")
	must(e.EncodeArrayLen(2))
	for _, v := range []int64{3, 5} {
		must(e.EncodeMapLen(2))
		s("type")
		must(e.EncodeInt(2))
		s("int_value")
		must(e.EncodeInt(v))
	}
	s("unknown_future_field")
	must(e.EncodeArrayLen(2))
	must(e.EncodeNil())
	must(e.EncodeFloat64(1.5))
	return buf.Bytes()
}

func TestGoldenDDTraceGo(t *testing.T) {
	body := golden(t, "dd-trace-go.v04.msgpack", func() []byte { return ddTraceGoPayload(t) })
	spans, err := decodeV04(body, header{lang: "go"})
	if err != nil {
		t.Fatal(err)
	}
	checkSpans(t, spans, []wantSpan{{
		traceID: "67a1b2c3000000000fedcba987654321", spanID: "abcdef0123456789", parentID: "1000000000000001",
		name: "grpc.server", resource: "/taster.Taster/Rate", typ: "rpc", kind: model.KindServer,
		start: t0, duration: 3_000_000, status: model.StatusError, statusMsg: "rating failed", service: "taster",
		attrs: map[string]string{
			"rpc.grpc.full_method": "/taster.Taster/Rate", "runtime-id": "6f1e2d3c-0000-4000-8000-000000000001",
			"error.message": "rating failed", "_sampling_priority_v1": "2", "_dd.top_level": "1",
		},
		resAttrs: map[string]string{attrSDKName: "datadog", attrSDKLanguage: "go"},
	}})
	s := spans[0]
	if len(s.Links) != 1 {
		t.Fatalf("links = %d, want 1", len(s.Links))
	}
	l := s.Links[0]
	if l.TraceID.String() != "67a1b2c3000000000fedcba987654321" || l.SpanID.String() != "0000000000005555" {
		t.Errorf("link = %s/%s", l.TraceID, l.SpanID)
	}
	if got := attrMap(l.Attrs); got["link.kind"] != "retry" || len(got) != 1 {
		t.Errorf("link attrs = %v", got)
	}
	if len(s.Events) != 1 {
		t.Fatalf("events = %d, want 1", len(s.Events))
	}
	ev := s.Events[0]
	if ev.Name != "exception" || ev.Time != t0+2_000_000 {
		t.Errorf("event = %q at %d", ev.Name, ev.Time)
	}
	checkMap(t, 0, "event attrs", attrMap(ev.Attrs), map[string]string{
		"exception.message": "rating failed", "exception.escaped": "true", "scores": "[3,5]",
	})
}

// metaJSONTraces carry span events and links as a /v0.5 tracer must, in meta as JSON, next to an "events" tag
// that is not such JSON and stays an attribute.
func metaJSONTraces() [][]ddSpan {
	return [][]ddSpan{{
		{
			Service: "taster", Name: "kafka.consume", Resource: "ratings", Type: "queue",
			TraceID: 42, SpanID: 43, Start: t0, Duration: 1000,
			Meta: map[string]string{
				"events": `[{"name":"retry","time_unix_nano":1732000000000000500,` +
					`"attributes":{"attempt":2,"backoff":0.25,"final":false,"topic":"ratings","ids":[1,2]}}]`,
				"_dd.span_links": `[{"trace_id":"67a1b2c3000000000fedcba987654321","span_id":"00000000000000ff",` +
					`"attributes":{"link.kind":"batch"},"tracestate":"dd=s:1"}]`,
			},
		},
		{
			Service: "taster", Name: "worker", TraceID: 42, SpanID: 44, ParentID: 43, Start: t0, Duration: 10,
			Meta: map[string]string{"events": "three of them"},
		},
	}}
}

func TestGoldenMetaJSON(t *testing.T) {
	body := golden(t, "meta-json.v05.msgpack", func() []byte { return encodeV05(t, metaJSONTraces()) })
	spans, err := decodeV05(body, header{})
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if len(s.Attrs) != 0 {
		t.Errorf("events and links JSON left as attributes: %v", attrMap(s.Attrs))
	}
	if len(s.Events) != 1 || s.Events[0].Name != "retry" || s.Events[0].Time != t0+500 {
		t.Fatalf("events = %+v", s.Events)
	}
	got := map[string]string{}
	for _, a := range s.Events[0].Attrs {
		got[a.Key] = a.Value.Type.String() + ":" + a.Value.AsString()
	}
	checkMap(t, 0, "event attrs", got, map[string]string{
		"attempt": "int64:2", "backoff": "float64:0.25", "final": "bool:false", "topic": "string:ratings",
		"ids": "array:[1,2]",
	})
	if len(s.Links) != 1 {
		t.Fatalf("links = %+v", s.Links)
	}
	l := s.Links[0]
	if l.TraceID.String() != "67a1b2c3000000000fedcba987654321" || l.SpanID.String() != "00000000000000ff" ||
		l.TraceState != "dd=s:1" || attrMap(l.Attrs)["link.kind"] != "batch" {
		t.Errorf("link = %+v", l)
	}
	if v := attrMap(spans[1].Attrs)["events"]; v != "three of them" || len(spans[1].Events) != 0 {
		t.Errorf("a non-JSON events tag: attr %q, %d events", v, len(spans[1].Events))
	}
}

// TestManySpans decodes more attributes than one slab holds, with a span larger than a slab in the middle, and
// checks that each span kept its own.
func TestManySpans(t *testing.T) {
	traces := benchTraces()
	big := map[string]string{}
	for i := 0; i < 3000; i++ {
		big[fmt.Sprintf("k%04d", i)] = fmt.Sprint(i)
	}
	traces[50][5].Meta = big
	for _, enc := range []struct {
		name   string
		encode func(testing.TB, [][]ddSpan) []byte
		decode func([]byte, header) ([]*model.Span, error)
	}{{"v04", encodeV04, decodeV04}, {"v05", encodeV05, decodeV05}} {
		spans, err := enc.decode(enc.encode(t, traces), header{})
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) != 1000 {
			t.Fatalf("%s: %d spans", enc.name, len(spans))
		}
		for i, s := range spans {
			ti, si := i/10, i%10
			attrs := attrMap(s.Attrs)
			if ti == 50 && si == 5 {
				if len(attrs) != 3003 || attrs["k2999"] != "2999" {
					t.Fatalf("%s: the big span has %d attributes", enc.name, len(attrs))
				}
				continue
			}
			want := fmt.Sprintf("/pair/%d?beer=stout&n=%d", si%4, ti)
			if len(attrs) != 9 || attrs["http.url"] != want {
				t.Fatalf("%s: span %d: %d attributes, http.url %q, want 9 and %q", enc.name, i, len(attrs), attrs["http.url"], want)
			}
		}
	}
}

// TestNoService: a span without a service gets OpenTelemetry's unknown_service, never an empty name.
func TestNoService(t *testing.T) {
	spans, err := decodeV04(encodeV04(t, [][]ddSpan{{{Name: "orphan", TraceID: 1, SpanID: 2}}}), header{})
	if err != nil {
		t.Fatal(err)
	}
	if got := spans[0].Service(); got != unknownService {
		t.Errorf("service %q, want %q", got, unknownService)
	}
}
