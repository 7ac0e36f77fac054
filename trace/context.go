package trace

import (
	"context"
	"unsafe"

	"github.com/weftrace/weft/trace/internal/slab"
)

type ctxKey struct{}

// node is the context.Context value that carries weft's state: the current span, the execution unit of the
// goroutine that uses the context, and the trace the span belongs to.
//
// A node is immutable once made, and never reused: contexts routinely outlive their spans (goroutines,
// libraries, net/http keep them), so nothing reachable from one may be rewritten when its span's memory is
// reused. Start takes its node from a per-P slab (internal/slab) so that a span still costs no allocation of
// its own. The span pointer is only a handle: the span is current only while its live key is the node's span ID
// (a span's life has its own random span ID, and End clears the key: see Span.live), and what a stale context
// must still answer — its span context, for propagation and for parenting children — is in the node: the span
// ID, and the trace (shared by every node of the trace's spans in this process, never modified).
//
// Start writes one node per span, so it is kept small (40 bytes) and written once: the unit and the trace, which
// change together only at a fork or a sampling decision, are in a lane that the nodes of a goroutine's spans
// share, and what the unit's first event waited for (its fork) is in the unit.
//
// A node without a lane but with a span ID is the head of a remoteNode, whose trace follows it in the same
// object (remote).
type node struct {
	context.Context
	span   *Span  // the recording span the node was made for, current while span.live is spanID's key; or nil
	lane   *lane  // the context's unit and the current span's trace; nil when it has neither, or is remote
	spanID SpanID // the current span's ID (valid when the node has a trace)
}

// lane is an execution unit and a trace: what the contexts of a goroutine's spans in one trace have in common.
// It is never modified once made.
type lane struct {
	unit *unit      // the execution unit; nil until a span starts one. Units are never reused.
	tr   *traceInfo // the current span's trace; nil when the context carries no span context
}

// newLane takes a lane for u and tr from the P's slab.
func newLane(u *unit, tr *traceInfo) *lane {
	l := lanes.Take()
	l.unit, l.tr = u, tr
	return l
}

// liveKey is the value Span.live holds while the node's span is current.
func (n *node) liveKey() uint64 { return n.spanID.key() }

// onUnit is the execution unit the context runs on, or nil.
func (n *node) onUnit() *unit {
	if n.lane == nil {
		return nil
	}
	return n.lane.unit
}

// trace is the current span's trace, or nil when the context carries no span context.
func (n *node) trace() *traceInfo {
	if n.lane != nil {
		return n.lane.tr
	}
	if n.spanID != (SpanID{}) {
		return n.remote()
	}
	return nil
}

// remote returns the trace of a node that heads a remoteNode: one without a lane and with a span ID.
func (n *node) remote() *traceInfo {
	return &(*remoteNode)(unsafe.Pointer(n)).info // node is remoteNode's first field
}

// traceInfo is what the spans of one trace started from one sampling decision share, in this process: a root
// span or a child of a remote parent makes one, and its local descendants refer to it. It is never modified once
// a node refers to it. A node without a recording span (a remote parent, a bare span context, a trace that was
// not sampled) has one of its own, which also says whether the context is remote and what sent it.
type traceInfo struct {
	id        TraceID
	state     string // W3C tracestate, verbatim
	origin    string // Datadog origin
	causeUnit uint64 // the sending event of a remote context (an EventID, in two fields to pack the struct)
	causeSeq  uint32
	flags     TraceFlags
	priority  int8
	candidate bool // a unitary candidate: recorded, not sampled, so are its children
	remote    bool // extracted from another process
}

func (t *traceInfo) cause() EventID { return EventID{Unit: t.causeUnit, Seq: t.causeSeq} }

// remoteNode is a node for a span context without a recording span, with its own trace, in one object. When
// the context has no unit (an extracted context), the node has no lane either: its trace is found by its place,
// right after the node (node.trace), which saves a lane and two pointers written per extracted context.
type remoteNode struct {
	node
	info traceInfo
}

var (
	nodes   = slab.New[node](8192)
	remotes = slab.New[remoteNode](8192)
	lanes   = slab.New[lane](4096)
	traces  = slab.New[traceInfo](8192)
	units   = slab.New[unit](8192) // units hold no pointers and cost the collector nothing to scan
)

// newNode makes a node that has no recording span, whose current span context is sc (none if sc is invalid and
// not a decision only).
func newNode(ctx context.Context, u *unit, sc SpanContext) *node {
	if !sc.IsValid() && !sc.IsDecisionOnly() {
		n := nodes.Take()
		n.Context = ctx
		if u != nil {
			n.lane = newLane(u, nil)
		}
		return n
	}
	// The slot is fresh and zero: only what is not zero is written, field by field, so that while the collector
	// runs, each pointer costs one write barrier rather than a bulk barrier over the whole struct.
	r := remotes.Take()
	i := &r.info
	i.id, i.causeUnit, i.causeSeq = sc.TraceID, sc.Cause.Unit, sc.Cause.Seq
	i.flags, i.priority, i.remote = sc.Flags, sc.Priority, sc.Remote
	if sc.TraceState != "" {
		i.state = sc.TraceState
	}
	if sc.Origin != "" {
		i.origin = sc.Origin
	}
	if u != nil || !sc.SpanID.IsValid() { // a decision only has no span ID to mark the node as remote
		r.lane = newLane(u, i)
	}
	r.Context, r.spanID = ctx, sc.SpanID
	return &r.node
}

// set fills a fresh (zero) node for the span s, whose unit and trace are l's.
func (n *node) set(ctx context.Context, s *Span, l *lane) {
	n.Context, n.span, n.lane, n.spanID = ctx, s, l, s.data.SpanID
}

// forked makes the context of a new unit u forked from ctx, whose node is n: the same current span (live or
// not), on the new unit.
func (n *node) forked(ctx context.Context, u *unit) *node {
	f := nodes.Take()
	*f = *n
	f.Context, f.lane = ctx, newLane(u, n.trace())
	return f
}

// sc is the node's current span context: its span's (kept in the node, so right after the span ended too), else
// the one it was made with.
func (n *node) sc() SpanContext {
	t := n.trace()
	if t == nil {
		return SpanContext{}
	}
	return SpanContext{TraceID: t.id, SpanID: n.spanID, Flags: t.flags, TraceState: t.state, Remote: t.remote,
		Priority: t.priority, Origin: t.origin, Cause: t.cause()}
}

// live returns the node's span while it has not ended, else nil. An ended span's live key is zero and a reused
// one's is its new span ID's, so a node made after End never reaches the span either.
func (n *node) live() *Span {
	if n.span != nil && n.span.live.Load() == n.liveKey() {
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
	if n, ok := ctx.(*node); ok { // the common case, a context Start returned: no call through the chain
		return n
	}
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
// the sending event, as its StartCause. A decision only (sc.IsDecisionOnly: no IDs, Remote set by the
// propagator) makes the next span the root of a new trace whose Sampler sees the decision as its parent's, so
// that a parent-based sampler follows it. Any other invalid sc returns ctx unchanged.
func ContextWithRemoteSpanContext(ctx context.Context, sc SpanContext) context.Context {
	if !sc.IsValid() {
		if sc.IsDecisionOnly() {
			return newNode(ctx, nil, sc)
		}
		return ctx
	}
	sc.Remote = true
	return newNode(ctx, nil, sc)
}

// ContextWithSpanContext returns a copy of ctx whose current span is sc as given (local unless sc.Remote is
// set), without a recording span: for bridges that receive a bare span context. An invalid sc returns ctx
// unchanged.
func ContextWithSpanContext(ctx context.Context, sc SpanContext) context.Context {
	if !sc.IsValid() {
		return ctx
	}
	return newNode(ctx, nil, sc)
}

// ContextWithSpan returns a copy of ctx whose current span is s, on the execution unit s started on. Start
// already returns such a context; this is for bridges and callbacks that hold only the span.
func ContextWithSpan(ctx context.Context, s *Span) context.Context {
	if s == nil {
		return ctx
	}
	n := nodes.Take()
	n.set(ctx, s, s.lane)
	return n
}

// CurrentEvent returns the last event recorded on the execution unit of ctx, or zero if the unit has none.
func CurrentEvent(ctx context.Context) EventID {
	n := nodeFrom(ctx)
	if n == nil || n.onUnit() == nil {
		return EventID{}
	}
	u := n.onUnit()
	return EventID{Unit: u.id, Seq: u.seq.Load()}
}

// RecordSend records a weft.send event on the current span of ctx, on ctx's execution unit, and returns its ID:
// the event a propagator injects (W3C tracestate weft=<unit>:<seq>) so that the receiving side's first span
// names it as its cause. It returns zero, and records nothing, when ctx has no recording span or its span has
// ended.
func RecordSend(ctx context.Context) EventID {
	n := nodeFrom(ctx)
	if n == nil || n.span == nil || n.onUnit() == nil {
		return EventID{}
	}
	return n.span.addEventLive(n.liveKey(), n.onUnit(), 0, EventSend, EventRef{}, nil)
}
