// Package otelbridge lets OpenTelemetry instrumentation record into weft. It implements the OpenTelemetry API's
// TracerProvider (go.opentelemetry.io/otel/trace) on top of a weft trace.Provider, and its TextMapPropagator on
// top of weft's propagators, so that otelhttp, otelgrpc, otelsql and the rest produce weft spans — with weft's
// execution units, events and causal hand-over between processes — after one line changes:
//
//	otel.SetTracerProvider(otelbridge.NewTracerProvider(trace.Default()))
//	otel.SetTextMapPropagator(otelbridge.Propagator(propagation.Default()))
//
// It is its own module so that the library does not depend on OpenTelemetry. Spans started through the bridge
// and spans started with weft's own API nest under each other in both directions: a context carries both views.
package otelbridge

import (
	"context"
	"reflect"
	"runtime"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/weftrace/weft/trace"
)

// TracerProvider is an OpenTelemetry TracerProvider that records into a weft Provider.
type TracerProvider struct {
	embedded.TracerProvider
	p       *trace.Provider
	tracers sync.Map // instrumentation scope name → *tracer
}

var _ oteltrace.TracerProvider = (*TracerProvider)(nil)

// NewTracerProvider returns a TracerProvider whose spans are weft spans of p: sampled by p's sampler, exported
// by p's exporter, counted in p's counters.
func NewTracerProvider(p *trace.Provider) *TracerProvider { return &TracerProvider{p: p} }

// Tracer returns the tracer for an instrumentation scope; the scope's name becomes the weft spans' scope.
func (tp *TracerProvider) Tracer(name string, _ ...oteltrace.TracerOption) oteltrace.Tracer {
	if t, ok := tp.tracers.Load(name); ok {
		return t.(*tracer)
	}
	t, _ := tp.tracers.LoadOrStore(name, &tracer{t: tp.p.Tracer(name), tp: tp})
	return t.(*tracer)
}

type tracer struct {
	embedded.Tracer
	t  *trace.Tracer
	tp *TracerProvider
}

// Start starts a weft span and returns it as an OpenTelemetry span, in a context that carries it for both APIs.
func (t *tracer) Start(ctx context.Context, name string, opts ...oteltrace.SpanStartOption) (context.Context, oteltrace.Span) {
	cfg := oteltrace.NewSpanStartConfig(opts...)
	ctx = parentContext(ctx)

	wopts := make([]trace.StartOption, 0, 5)
	if k := kindFromOTel(cfg.SpanKind()); k != trace.KindUnspecified {
		wopts = append(wopts, trace.WithKind(k))
	}
	if attrs := cfg.Attributes(); len(attrs) > 0 {
		wopts = append(wopts, trace.WithAttrs(attrsFromOTel(attrs)...))
	}
	if links := cfg.Links(); len(links) > 0 {
		wl := make([]trace.Link, len(links))
		for i, l := range links {
			wl[i] = trace.Link{SpanContext: spanContextFromOTel(l.SpanContext), Attrs: attrsFromOTel(l.Attributes)}
		}
		wopts = append(wopts, trace.WithLinks(wl...))
	}
	if ts := cfg.Timestamp(); !ts.IsZero() {
		wopts = append(wopts, trace.WithStartTime(ts))
	}
	if cfg.NewRoot() {
		wopts = append(wopts, trace.WithNewRoot())
	}
	ctx, ws := t.t.Start(ctx, name, wopts...)
	s := &span{ws: ws, tp: t.tp, sc: spanContextToOTel(trace.SpanContextFromContext(ctx))}
	return oteltrace.ContextWithSpan(ctx, s), s
}

// parentContext makes weft's view of the parent agree with OpenTelemetry's. The OpenTelemetry span in ctx
// wins when it is not what weft already has: a bridge span put there with oteltrace.ContextWithSpan, or a remote
// context another OpenTelemetry propagator extracted.
func parentContext(ctx context.Context) context.Context {
	os := oteltrace.SpanFromContext(ctx)
	if bs, ok := os.(*span); ok {
		if ws := bs.weft(); ws != nil {
			if trace.SpanFromContext(ctx) != ws {
				return trace.ContextWithSpan(ctx, ws)
			}
			return ctx
		}
		return withRemote(ctx, bs.sc) // ended or not recorded: its context is still the parent
	}
	return withRemote(ctx, os.SpanContext())
}

// withRemote makes osc weft's parent in ctx unless weft already has that span as the parent (in which case
// weft's view, which also knows the sending event, is kept).
func withRemote(ctx context.Context, osc oteltrace.SpanContext) context.Context {
	if !osc.IsValid() {
		return ctx
	}
	wsc := trace.SpanContextFromContext(ctx)
	if wsc.TraceID == trace.TraceID(osc.TraceID()) && wsc.SpanID == trace.SpanID(osc.SpanID()) {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, spanContextFromOTel(osc))
}

// span is a weft span seen through the OpenTelemetry API. A weft span's memory is reused once it has ended, so
// every use of ws is under mu and stops at End.
type span struct {
	embedded.Span
	tp *TracerProvider
	sc oteltrace.SpanContext

	mu    sync.Mutex
	ws    *trace.Span // nil when not recorded, and from End on
	ended bool
}

var _ oteltrace.Span = (*span)(nil)

func (s *span) weft() *trace.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ws
}

// with runs f on the weft span if it is recording and not ended.
func (s *span) with(f func(ws *trace.Span)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws != nil && !s.ended {
		f(s.ws)
	}
}

// End ends the span, at the given timestamp if one is set.
func (s *span) End(opts ...oteltrace.SpanEndOption) {
	cfg := oteltrace.NewSpanEndConfig(opts...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	if s.ws == nil {
		return
	}
	if ts := cfg.Timestamp(); !ts.IsZero() {
		s.ws.EndAt(ts)
	} else {
		s.ws.End()
	}
	s.ws = nil
}

// AddEvent records a span event, which weft places on the span's execution unit.
func (s *span) AddEvent(name string, opts ...oteltrace.EventOption) {
	cfg := oteltrace.NewEventConfig(opts...)
	s.with(func(ws *trace.Span) { ws.AddEventAt(cfg.Timestamp(), name, attrsFromOTel(cfg.Attributes())...) })
}

// AddLink links the span to another.
func (s *span) AddLink(l oteltrace.Link) {
	s.with(func(ws *trace.Span) {
		ws.AddLink(trace.Link{SpanContext: spanContextFromOTel(l.SpanContext), Attrs: attrsFromOTel(l.Attributes)})
	})
}

// IsRecording reports whether the span records (its trace was sampled) and has not ended.
func (s *span) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ws != nil && !s.ended
}

// RecordError records err as an "exception" event, as OpenTelemetry does: exception.type, exception.message,
// and exception.stacktrace when asked. Unlike weft's own RecordError it leaves the status alone, as
// OpenTelemetry's callers expect.
func (s *span) RecordError(err error, opts ...oteltrace.EventOption) {
	if err == nil {
		return
	}
	cfg := oteltrace.NewEventConfig(opts...)
	attrs := append([]trace.Attr{
		trace.String("exception.type", reflect.TypeOf(err).String()),
		trace.String("exception.message", err.Error()),
	}, attrsFromOTel(cfg.Attributes())...)
	if cfg.StackTrace() {
		buf := make([]byte, 4096)
		attrs = append(attrs, trace.String("exception.stacktrace", string(buf[:runtime.Stack(buf, false)])))
	}
	s.with(func(ws *trace.Span) { ws.AddEventAt(cfg.Timestamp(), "exception", attrs...) })
}

// SpanContext is the span's context; it stays valid after End.
func (s *span) SpanContext() oteltrace.SpanContext { return s.sc }

// SetStatus sets the outcome; Unset is ignored, and a description is kept only with Error.
func (s *span) SetStatus(code codes.Code, description string) {
	var c trace.StatusCode
	switch code {
	case codes.Error:
		c = trace.StatusError
	case codes.Ok:
		c = trace.StatusOK
	default:
		return
	}
	s.with(func(ws *trace.Span) { ws.SetStatus(c, description) })
}

// SetName renames the span.
func (s *span) SetName(name string) { s.with(func(ws *trace.Span) { ws.SetName(name) }) }

// SetAttributes sets attributes.
func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	attrs := attrsFromOTel(kv)
	s.with(func(ws *trace.Span) { ws.SetAttrs(attrs...) })
}

// TracerProvider returns the bridge's provider.
func (s *span) TracerProvider() oteltrace.TracerProvider { return s.tp }

func kindFromOTel(k oteltrace.SpanKind) trace.Kind {
	switch k {
	case oteltrace.SpanKindInternal:
		return trace.KindInternal
	case oteltrace.SpanKindServer:
		return trace.KindServer
	case oteltrace.SpanKindClient:
		return trace.KindClient
	case oteltrace.SpanKindProducer:
		return trace.KindProducer
	case oteltrace.SpanKindConsumer:
		return trace.KindConsumer
	}
	return trace.KindUnspecified
}

func attrsFromOTel(kvs []attribute.KeyValue) []trace.Attr {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]trace.Attr, 0, len(kvs))
	for _, kv := range kvs {
		k := string(kv.Key)
		switch kv.Value.Type() {
		case attribute.BOOL:
			out = append(out, trace.Bool(k, kv.Value.AsBool()))
		case attribute.INT64:
			out = append(out, trace.Int64(k, kv.Value.AsInt64()))
		case attribute.FLOAT64:
			out = append(out, trace.Float64(k, kv.Value.AsFloat64()))
		case attribute.STRING:
			out = append(out, trace.String(k, kv.Value.AsString()))
		case attribute.BOOLSLICE:
			out = append(out, trace.Bools(k, kv.Value.AsBoolSlice()))
		case attribute.INT64SLICE:
			out = append(out, trace.Int64s(k, kv.Value.AsInt64Slice()))
		case attribute.FLOAT64SLICE:
			out = append(out, trace.Float64s(k, kv.Value.AsFloat64Slice()))
		case attribute.STRINGSLICE:
			out = append(out, trace.Strings(k, kv.Value.AsStringSlice()))
		default: // types added to the API later: keep them as text rather than lose them
			out = append(out, trace.String(k, kv.Value.Emit()))
		}
	}
	return out
}

func spanContextFromOTel(sc oteltrace.SpanContext) trace.SpanContext {
	return trace.SpanContext{
		TraceID:    trace.TraceID(sc.TraceID()),
		SpanID:     trace.SpanID(sc.SpanID()),
		Flags:      trace.TraceFlags(sc.TraceFlags()),
		TraceState: sc.TraceState().String(),
		Remote:     sc.IsRemote(),
		Priority:   trace.PriorityUnset,
	}
}

func spanContextToOTel(sc trace.SpanContext) oteltrace.SpanContext {
	cfg := oteltrace.SpanContextConfig{
		TraceID:    oteltrace.TraceID(sc.TraceID),
		SpanID:     oteltrace.SpanID(sc.SpanID),
		TraceFlags: oteltrace.TraceFlags(sc.Flags),
		Remote:     sc.Remote,
	}
	if sc.TraceState != "" {
		if ts, err := oteltrace.ParseTraceState(sc.TraceState); err == nil {
			cfg.TraceState = ts
		}
	}
	return oteltrace.NewSpanContext(cfg)
}
