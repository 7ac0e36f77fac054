package propagation

import (
	"context"
	"slices"

	"github.com/weftrace/weft/trace"
)

// Composite is several propagators used as one: Inject writes every format, in order; Extract takes the span
// context from the first format that holds a valid one (later formats are not read for it) and always runs the
// propagators that carry no span context, such as W3CBaggage. A malformed header of one format does not stop a
// later format from being used. A sampling decision without IDs (B3's "b3: 0") is used only when no format holds
// a valid context: the first such decision then applies.
type Composite []Propagator

// Default is what a program gets without configuration: W3C trace context and baggage, as the OpenTelemetry
// SDKs default to.
func Default() Composite { return Composite{W3C{}, W3CBaggage{}} }

// ByName returns the propagator named as in OTEL_PROPAGATORS: tracecontext, baggage, b3 (single header),
// b3multi, jaeger or datadog.
func ByName(name string) (Propagator, bool) {
	switch name {
	case "tracecontext":
		return W3C{}, true
	case "baggage":
		return W3CBaggage{}, true
	case "b3":
		return B3{}, true
	case "b3multi":
		return B3Multi{}, true
	case "jaeger":
		return Jaeger{}, true
	case "datadog":
		return Datadog{}, true
	}
	return nil, false
}

// Fields is the union of the propagators' fields, without repeats.
func (cp Composite) Fields() []string {
	var out []string
	for _, p := range cp {
		for _, f := range p.Fields() {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// Inject writes every format.
func (cp Composite) Inject(ctx context.Context, c Carrier) {
	for _, p := range cp {
		p.Inject(ctx, c)
	}
}

// Extract returns ctx with the first valid span context among the formats and everything the other
// propagators (baggage) read.
func (cp Composite) Extract(ctx context.Context, c Carrier) context.Context {
	found := false
	var decision trace.SpanContext // the first decision without IDs, used if no format has a valid context
	for _, p := range cp {
		if e, ok := p.(spanContextExtractor); ok {
			if found {
				continue
			}
			if sc, ok := e.extract(c); ok {
				if sc.IsDecisionOnly() {
					if !decision.IsDecisionOnly() {
						decision = sc
					}
					continue
				}
				ctx = contextWithRemote(ctx, sc)
				found = true
			}
			continue
		}
		// A propagator from outside this package: run it, but do not let it replace a context already found.
		before := spanContextFromContext(ctx)
		next := p.Extract(ctx, c)
		if after := spanContextFromContext(next); after != before {
			if found {
				next = contextWithRemote(next, before)
			} else if after.IsValid() {
				found = true
			}
		}
		ctx = next
	}
	if !found && decision.IsDecisionOnly() {
		ctx = contextWithRemote(ctx, decision)
	}
	return ctx
}
