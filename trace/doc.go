// Package trace is the weft tracing library: what a Go program imports to trace itself. It sits at the very
// start of weft's flow (library → OTLP → weft serve) and depends on nothing outside the standard library.
//
// A span is started with Start and ended with End; the current span travels in a context.Context:
//
//	ctx, span := trace.Start(ctx, "pair", trace.WithKind(trace.KindServer), trace.WithAttrs(trace.String("http.route", "/pair")))
//	defer span.End()
//
// Beneath the spans, weft records events on execution units. An execution unit is one goroutine doing sequential
// work for a trace; span starts, span ends and span events are numbered in order on their unit. Go and Group
// start goroutines as new units with a fork event and record a join event, naming the joined unit's last event,
// when they are waited for. A context sent to another process carries its sending event (RecordSend; W3C
// tracestate weft=<unit>:<seq>) and the receiving span names it as its StartCause. Exported spans carry all of
// this as attributes that other backends ignore harmlessly; docs/causality.md describes the format.
//
// Recording a sampled span allocates nothing of its own: spans (with their first attributes inline, slog-style)
// are pooled and reused once exported, so a Span must not be used after End. The contexts Start returns and the
// execution units are never reused, since contexts outlive spans: they are carved from per-P slabs, a fraction
// of an allocation each. A context kept after its span ended still carries the span's context (its children are
// children of the ended span) but no longer reaches the span: SpanFromContext returns nil for it. A span that is
// not sampled is a nil *Span, whose methods do nothing, and costs about as much as a no-op tracer.
//
// Ended spans go to a Provider's batcher, which hands them to an Exporter in batches from a background goroutine;
// the application never waits for it. Samplers are in trace/sample, propagation formats in trace/propagation,
// exporters under trace/export.
package trace
