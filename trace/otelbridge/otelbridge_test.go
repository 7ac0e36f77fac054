package otelbridge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

type propagationHeader = otelpropagation.HeaderCarrier

func otelHeader(h http.Header) propagationHeader { return propagationHeader(h) }

func attr(d *trace.SpanData, key string) (trace.Value, bool) { return d.Attr(key) }

// TestOtelHTTP runs otelhttp's client transport and server handler through the bridge and checks the weft spans
// they produce: names, kinds, the parent/child chain across the HTTP hop, attributes, status, and weft's causal
// hand-over (the server span's start names the client span's send event).
func TestOtelHTTP(t *testing.T) {
	var rec trace.Recorder
	p := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "matchmaker"}, Exporter: &rec})
	tp := NewTracerProvider(p)
	prop := Propagator(propagation.Default())

	mux := http.NewServeMux()
	mux.HandleFunc("/pairings/{beer}", func(w http.ResponseWriter, r *http.Request) {
		_, child := tp.Tracer("matchmaker/app").Start(r.Context(), "score",
			oteltrace.WithAttributes(attribute.String("beer", r.PathValue("beer")), attribute.Int("candidates", 3)))
		child.AddEvent("scored", oteltrace.WithAttributes(attribute.Float64("best", 0.92)))
		child.End()
		if r.PathValue("beer") == "stout" {
			http.Error(w, "no pairing", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "glazed")
	})
	srv := httptest.NewServer(otelhttp.NewHandler(mux, "pairings",
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop)))
	defer srv.Close()
	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport,
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop))}

	for _, beer := range []string{"lager", "stout"} {
		ctx, op := tp.Tracer("matchmaker/cli").Start(context.Background(), "ask "+beer)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/pairings/"+beer, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		op.End()
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := rec.Spans()
	if len(spans) != 8 {
		for _, d := range spans {
			t.Logf("%s %s", d.Kind, d.Name)
		}
		t.Fatalf("%d spans, want 8 (operation, HTTP client, HTTP server, handler child; twice)", len(spans))
	}
	for _, beer := range []string{"lager", "stout"} {
		var op, client, server, score *trace.SpanData
		for _, d := range spans {
			switch {
			case d.Name == "ask "+beer:
				op = d
			}
		}
		if op == nil {
			t.Fatalf("no span for ask %s", beer)
		}
		for _, d := range spans {
			if d.TraceID != op.TraceID {
				continue
			}
			switch d.Kind {
			case trace.KindClient:
				client = d
			case trace.KindServer:
				server = d
			}
			if d.Name == "score" {
				score = d
			}
		}
		if client == nil || server == nil || score == nil {
			t.Fatalf("%s: missing spans in the trace (client %v, server %v, score %v)", beer, client != nil, server != nil, score != nil)
		}
		if client.ParentID != op.SpanID || server.ParentID != client.SpanID || score.ParentID != server.SpanID {
			t.Errorf("%s: parent chain broken: op %v ← client %v (parent %v) ← server %v (parent %v) ← score (parent %v)",
				beer, op.SpanID, client.SpanID, client.ParentID, server.SpanID, server.ParentID, score.ParentID)
		}
		if op.Kind != trace.KindInternal || score.Kind != trace.KindInternal {
			t.Errorf("%s: kinds op %v score %v", beer, op.Kind, score.Kind)
		}
		// otelhttp names the server span after the mux's pattern once the handler has run (SetName through the
		// bridge) and the client span after the method.
		if server.Name != "GET /pairings/{beer}" || client.Name != "HTTP GET" {
			t.Errorf("%s: names server %q client %q", beer, server.Name, client.Name)
		}
		if server.Scope == "" || client.Scope == "" || score.Scope != "matchmaker/app" {
			t.Errorf("%s: scopes %q %q %q", beer, client.Scope, server.Scope, score.Scope)
		}
		for _, d := range []*trace.SpanData{client, server} {
			if v, ok := attr(d, "http.request.method"); !ok || v.AsString() != "GET" {
				t.Errorf("%s %s: http.request.method %v", beer, d.Kind, v)
			}
		}
		if v, ok := attr(server, "url.path"); !ok || v.AsString() != "/pairings/"+beer {
			t.Errorf("%s: url.path %v", beer, v)
		}
		wantCode := int64(200)
		if beer == "stout" {
			wantCode = 500
		}
		for _, d := range []*trace.SpanData{client, server} {
			if v, ok := attr(d, "http.response.status_code"); !ok || v.AsInt64() != wantCode {
				t.Errorf("%s %s: http.response.status_code %v", beer, d.Kind, v)
			}
		}
		if v, ok := attr(score, "beer"); !ok || v.AsString() != beer {
			t.Errorf("%s: score attribute beer %v", beer, v)
		}
		if v, ok := attr(score, "candidates"); !ok || v.AsInt64() != 3 {
			t.Errorf("%s: score attribute candidates %v", beer, v)
		}
		if len(score.Events) != 1 || score.Events[0].Name != "scored" || score.Events[0].Seq == 0 {
			t.Errorf("%s: score events %+v", beer, score.Events)
		}
		// otelhttp: a 5xx is an error on the server span and on the client span; a 2xx leaves both unset.
		wantStatus := trace.StatusUnset
		if beer == "stout" {
			wantStatus = trace.StatusError
		}
		if server.StatusCode != wantStatus || client.StatusCode != wantStatus {
			t.Errorf("%s: status server %v client %v, want %v", beer, server.StatusCode, client.StatusCode, wantStatus)
		}
		// weft's causality across the hop: the client span recorded the send, the server span names it.
		var send *trace.Event
		for i := range client.Events {
			if client.Events[i].Name == trace.EventSend {
				send = &client.Events[i]
			}
		}
		if send == nil {
			t.Fatalf("%s: client span has no %s event", beer, trace.EventSend)
		}
		if server.StartCause.EventID != (trace.EventID{Unit: send.Unit, Seq: send.Seq}) {
			t.Errorf("%s: server start cause %v, client send event %x:%d", beer, server.StartCause, send.Unit, send.Seq)
		}
	}
}

// TestSpanAPI covers the rest of the OpenTelemetry Span interface.
func TestSpanAPI(t *testing.T) {
	var rec trace.Recorder
	p := trace.NewProvider(trace.Config{Exporter: &rec})
	tp := NewTracerProvider(p)
	tr := tp.Tracer("test")
	if tr != tp.Tracer("test") {
		t.Error("Tracer does not reuse the tracer of a scope")
	}
	ctx, s := tr.Start(context.Background(), "first", oteltrace.WithSpanKind(oteltrace.SpanKindProducer))
	if !s.IsRecording() || !s.SpanContext().IsValid() || s.TracerProvider() != tp {
		t.Fatal("a sampled span does not record")
	}
	if oteltrace.SpanFromContext(ctx) != s || trace.SpanContextFromContext(ctx).SpanID != trace.SpanID(s.SpanContext().SpanID()) {
		t.Error("the context does not carry the span for both APIs")
	}
	other := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: oteltrace.TraceID{1}, SpanID: oteltrace.SpanID{2}})
	s.SetName("renamed")
	s.SetAttributes(attribute.StringSlice("s", []string{"a"}), attribute.BoolSlice("b", []bool{true}),
		attribute.Int64Slice("i", []int64{1}), attribute.Float64Slice("f", []float64{1.5}))
	s.AddLink(oteltrace.Link{SpanContext: other, Attributes: []attribute.KeyValue{attribute.Bool("k", true)}})
	s.RecordError(errors.New("boom"), oteltrace.WithStackTrace(true))
	s.SetStatus(codes.Unset, "ignored")
	s.SetStatus(codes.Error, "failed")
	_, c := tr.Start(ctx, "child")
	c.End()
	s.End()
	s.End()                                        // twice: harmless
	s.SetAttributes(attribute.String("late", "x")) // after End: ignored, and must not touch a reused span
	if s.IsRecording() || !s.SpanContext().IsValid() {
		t.Error("an ended span records, or lost its context")
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rec.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	d := spans[1]
	if d.Name != "renamed" || d.Kind != trace.KindProducer || d.StatusCode != trace.StatusError || d.StatusMessage != "failed" {
		t.Errorf("span %q kind %v status %v %q", d.Name, d.Kind, d.StatusCode, d.StatusMessage)
	}
	if len(d.Links) != 1 || d.Links[0].SpanContext.TraceID != (trace.TraceID{1}) {
		t.Errorf("links %+v", d.Links)
	}
	if _, ok := d.Attr("late"); ok {
		t.Error("attribute set after End was recorded")
	}
	for _, k := range []string{"s", "b", "i", "f"} {
		if _, ok := d.Attr(k); !ok {
			t.Errorf("attribute %s missing", k)
		}
	}
	var exc *trace.Event
	for i := range d.Events {
		if d.Events[i].Name == "exception" {
			exc = &d.Events[i]
		}
	}
	if exc == nil || len(exc.Attrs) != 3 {
		t.Errorf("exception event %+v", exc)
	}
	if spans[0].ParentID != d.SpanID {
		t.Error("child not parented to the bridge span")
	}
}

func TestUnsampled(t *testing.T) {
	p := trace.NewProvider(trace.Config{Sampler: neverSampler{}})
	ctx, s := NewTracerProvider(p).Tracer("t").Start(context.Background(), "x")
	if s.IsRecording() || !s.SpanContext().IsValid() || s.SpanContext().IsSampled() {
		t.Errorf("unsampled span: recording %v, context %v", s.IsRecording(), s.SpanContext())
	}
	s.SetAttributes(attribute.String("k", "v"))
	s.End()
	h := http.Header{}
	Propagator(propagation.W3C{}).Inject(ctx, otelHeader(h))
	if sc, err := propagation.ParseTraceparent(h.Get("traceparent")); err != nil || sc.IsSampled() {
		t.Errorf("injected %q", h.Get("traceparent"))
	}
}

type neverSampler struct{}

func (neverSampler) ShouldSample(trace.SamplingParams) trace.SamplingResult {
	return trace.SamplingResult{Decision: trace.Drop, Priority: trace.PriorityUnset}
}
func (neverSampler) Description() string { return "never" }
