package otelbridge

import (
	"context"

	otelpropagation "go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

// Propagator adapts weft propagators to OpenTelemetry's TextMapPropagator, for otel.SetTextMapPropagator or an
// instrumentation's WithPropagators option. Injecting through it records weft's send event, like weft's own
// propagators; extracting puts the remote context in both weft's and OpenTelemetry's view of the context.
func Propagator(p propagation.Propagator) otelpropagation.TextMapPropagator { return textMap{p} }

type textMap struct{ p propagation.Propagator }

// Inject writes the context's trace into the carrier in every format of the weft propagator.
func (t textMap) Inject(ctx context.Context, carrier otelpropagation.TextMapCarrier) {
	t.p.Inject(parentContext(ctx), carrierOf(carrier))
}

// Extract reads the carrier with the weft propagator.
func (t textMap) Extract(ctx context.Context, carrier otelpropagation.TextMapCarrier) context.Context {
	ctx = t.p.Extract(ctx, carrierOf(carrier))
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.Remote {
		ctx = oteltrace.ContextWithRemoteSpanContext(ctx, spanContextToOTel(sc))
	}
	return ctx
}

// Fields returns the header names the weft propagator uses.
func (t textMap) Fields() []string { return t.p.Fields() }

// carrierOf views an OpenTelemetry carrier as a weft one, keeping access to repeated HTTP headers.
func carrierOf(c otelpropagation.TextMapCarrier) propagation.Carrier {
	if h, ok := c.(otelpropagation.HeaderCarrier); ok {
		return propagation.HeaderCarrier(h)
	}
	return c
}
