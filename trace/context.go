package trace

import "context"

type ctxKey struct{}

// node is the context.Context value that carries weft's state: the current span, the execution unit of the
// goroutine that uses the context, and what the unit's first event waited for.
//
// A node is immutable once made, and never reused: contexts routinely outlive their spans (goroutines,
// libraries, net/http keep them), so nothing reachable from one may be rewritten when its span's memory is
// reused. Start takes its node from a per-P slab (slab.go) so that a span still costs no allocation of its own.
// The span pointer is only a handle: the span is current only while its generation equals gen (End moves the
// generation on), and what a stale context must still answer — its span context, for propagation and for
// parenting children — is kept in the node as a copy.
//
// Start writes one node per span, so it is kept small: a span's own context is inline, and what only other nodes
// have (a span context without a recording span, a fork's cause) is in x.
type node struct {
	context.Context
	span *Span      // the recording span the node was made for, current while span.gen == gen; or nil
	gen  uint64     // span's generation when the node was made
	unit *unit      // the execution unit; nil until a span starts one. Units are never reused.
	x    *nodeExtra // nil in the nodes Start makes

	// A copy of span's context, when span is set.
	traceID    TraceID
	spanID     SpanID
	traceState string
	origin     string
	flags      TraceFlags
	priority   int8
	candidate  bool // the span is a unitary candidate, so its children are too
}

// nodeExtra is the part of a node that only nodes made outside Start have.
type nodeExtra struct {
	sc    SpanContext // the current span context when the node has no span
	cause EventRef    // the event the unit's first event waited for (its fork); zero if none
}

// newNode makes a node that has no recording span.
func newNode(ctx context.Context, u *unit, sc SpanContext, cause EventRef) *node {
	b := &struct {
		node
		nodeExtra
	}{nodeExtra: nodeExtra{sc: sc, cause: cause}}
	b.node = node{Context: ctx, unit: u, x: &b.nodeExtra}
	return &b.node
}

// set fills a fresh node for the span s, started on u.
func (n *node) set(ctx context.Context, s *Span, u *unit) {
	d := &s.data
	*n = node{Context: ctx, span: s, gen: s.gen.Load(), unit: u, traceID: d.TraceID, spanID: d.SpanID,
		traceState: d.TraceState, origin: s.origin, flags: d.Flags, priority: d.Priority, candidate: s.candidate}
}

// forked makes the context of a new unit u forked from ctx, whose node is n: the same current span (live or
// not), on a new unit whose first event waited for cause.
func (n *node) forked(ctx context.Context, u *unit, cause EventRef) *node {
	f := &struct {
		node
		nodeExtra
	}{node: *n, nodeExtra: nodeExtra{sc: n.sc(), cause: cause}}
	f.node.Context, f.node.unit, f.node.x = ctx, u, &f.nodeExtra
	return &f.node
}

// sc is the node's current span context: its span's (a copy, so right after the span ended too), else the one
// it was made with.
func (n *node) sc() SpanContext {
	if n.span != nil {
		return SpanContext{TraceID: n.traceID, SpanID: n.spanID, Flags: n.flags, TraceState: n.traceState,
			Priority: n.priority, Origin: n.origin}
	}
	if n.x != nil {
		return n.x.sc
	}
	return SpanContext{}
}

// cause is what the first event of the node's unit waited for.
func (n *node) cause() EventRef {
	if n.x == nil {
		return EventRef{}
	}
	return n.x.cause
}

// live returns the node's span while it has not ended, else nil. A span's live generations are even and its
// ended ones odd (End and reuse each move it on), so a node made after End never reaches the span either.
func (n *node) live() *Span {
	if n.span != nil && n.gen&1 == 0 && n.span.gen.Load() == n.gen {
		return n.span
	}
	return nil
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

// SpanContextFromContext returns the context of the current span in ctx, recorded or not, local or remote:
// what a propagator injects. It is zero when ctx carries no trace.
func SpanContextFromContext(ctx context.Context) SpanContext {
	if n := nodeFrom(ctx); n != nil {
		return n.sc()
	}
	return SpanContext{}
}

// SpanFromContext returns the current recording span in ctx, or nil (whose methods do nothing) if there is none
// or it has ended. The span it returns is, like the one Start returns, not to be used after it ends.
func SpanFromContext(ctx context.Context) *Span {
	if n := nodeFrom(ctx); n != nil {
		return n.live()
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
	return newNode(ctx, nil, sc, EventRef{})
}

// ContextWithSpanContext returns a copy of ctx whose current span is sc as given (local unless sc.Remote is
// set), without a recording span: for bridges that receive a bare span context. An invalid sc returns ctx
// unchanged.
func ContextWithSpanContext(ctx context.Context, sc SpanContext) context.Context {
	if !sc.IsValid() {
		return ctx
	}
	return newNode(ctx, nil, sc, EventRef{})
}

// ContextWithSpan returns a copy of ctx whose current span is s, on the execution unit s started on. Start
// already returns such a context; this is for bridges and callbacks that hold only the span.
func ContextWithSpan(ctx context.Context, s *Span) context.Context {
	if s == nil {
		return ctx
	}
	n := new(node)
	n.set(ctx, s, s.unit)
	return n
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
// names it as its cause. It returns zero, and records nothing, when ctx has no recording span or its span has
// ended.
func RecordSend(ctx context.Context) EventID {
	n := nodeFrom(ctx)
	if n == nil || n.span == nil || n.unit == nil {
		return EventID{}
	}
	return n.span.addEventGen(n.gen, n.unit, 0, EventSend, EventRef{}, nil)
}
