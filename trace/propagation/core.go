package propagation

import (
	"context"

	"github.com/weftrace/weft/trace"
)

// The seams to the core package, in one place.

// injectContext is the span context a propagator writes: the current span's, local or remote.
func injectContext(ctx context.Context) trace.SpanContext { return trace.SpanContextFromContext(ctx) }

func contextWithRemote(ctx context.Context, sc trace.SpanContext) context.Context {
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

func spanContextFromContext(ctx context.Context) trace.SpanContext {
	return trace.SpanContextFromContext(ctx)
}
