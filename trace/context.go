package trace

import "context"

type ctxKey struct{}

// node is the context.Context value that carries weft's state: the current span, the execution unit of the
// goroutine that uses the context, and what the unit's first event waited for. A recording span's node lives
// inside the Span, so starting a span allocates no context; it is kept small because Start writes it.
type node struct {
	context.Context
	span *Span      // the current recording span; nil when the current span is remote or not recorded
	unit *unit      // the execution unit; nil until a span starts one
	x    *nodeExtra // nil in a span's own node
}

// nodeExtra is the part of a node that only nodes made outside Start have.
type nodeExtra struct {
	sc    SpanContext // the current span context when span is nil
	cause EventRef    // the event the unit's first event waited for (its fork); zero if none
}

// newNode makes a node with its extra part in one allocation.
func newNode(ctx context.Context, span *Span, u *unit, sc SpanContext, cause EventRef) *node {
	b := &struct {
		node
		nodeExtra
	}{nodeExtra: nodeExtra{sc: sc, cause: cause}}
	b.node = node{Context: ctx, span: span, unit: u, x: &b.nodeExtra}
	return &b.node
}

// sc is the node's span context when it has no recording span.
func (n *node) sc() SpanContext {
	if n.x == nil {
		return SpanContext{}
	}
	return n.x.sc
}

// cause is what the first event of the node's unit waited for.
func (n *node) cause() EventRef {
	if n.x == nil {
		return EventRef{}
	}
	return n.x.cause
}

// Value answers weft's key with the node itself and passes other keys to the parent.
func (n *node) Value(key any) any {
	if key == (ctxKey{}) {
		return n
	}
	return n.Context.Value(key)
}

// String describes the node for debugging, as the context package's own types do.
func (n *node) String() string { return "trace.node" }

func nodeFrom(ctx context.Context) *node {
	if ctx == nil {
		return nil
	}
	n, _ := ctx.Value(ctxKey{}).(*node)
	return n
}

func (n *node) spanContext() SpanContext {
	if n.span != nil {
		return n.span.SpanContext()
	}
	return n.sc()
}

// SpanContextFromContext returns the context of the current span in ctx, recorded or not, local or remote:
// what a propagator injects. It is zero when ctx carries no trace.
func SpanContextFromContext(ctx context.Context) SpanContext {
	if n := nodeFrom(ctx); n != nil {
		return n.spanContext()
	}
	return SpanContext{}
}

// SpanFromContext returns the current recording span in ctx, or nil (whose methods do nothing) if there is none.
func SpanFromContext(ctx context.Context) *Span {
	if n := nodeFrom(ctx); n != nil {
		return n.span
	}
	return nil
}

// ContextWithRemoteSpanContext returns a copy of ctx whose current span is sc, a context extracted from another
// process (sc.Remote is set). The next span started from it is its child, asks the Sampler, and names sc.Cause,
// the sending event, as its StartCause. An invalid sc returns ctx unchanged.
func ContextWithRemoteSpanContext(ctx context.Context, sc SpanContext) context.Context {
	if !sc.IsValid() {
		return ctx
	}
	sc.Remote = true
	return newNode(ctx, nil, nil, sc, EventRef{})
}

// ContextWithSpanContext returns a copy of ctx whose current span is sc as given (local unless sc.Remote is
// set), without a recording span: for bridges that receive a bare span context. An invalid sc returns ctx
// unchanged.
func ContextWithSpanContext(ctx context.Context, sc SpanContext) context.Context {
	if !sc.IsValid() {
		return ctx
	}
	return newNode(ctx, nil, nil, sc, EventRef{})
}

// ContextWithSpan returns a copy of ctx whose current span is s, on the execution unit s started on. Start
// already returns such a context; this is for bridges and callbacks that hold only the span.
func ContextWithSpan(ctx context.Context, s *Span) context.Context {
	if s == nil {
		return ctx
	}
	return &node{Context: ctx, span: s, unit: s.unit}
}

// CurrentEvent returns the last event recorded on the execution unit of ctx, or zero if the unit has none.
func CurrentEvent(ctx context.Context) EventID {
	n := nodeFrom(ctx)
	if n == nil || n.unit == nil {
		return EventID{}
	}
	return EventID{Unit: n.unit.id, Seq: n.unit.seq.Load()}
}

// RecordSend records a weft.send event on the current span of ctx, on ctx's execution unit, and returns its ID:
// the event a propagator injects (W3C tracestate weft=<unit>:<seq>) so that the receiving side's first span
// names it as its cause. It returns zero, and records nothing, when ctx has no recording span.
func RecordSend(ctx context.Context) EventID {
	n := nodeFrom(ctx)
	if n == nil || n.span == nil || n.unit == nil {
		return EventID{}
	}
	return n.span.addEvent(n.unit, 0, EventSend, EventRef{}, nil)
}
