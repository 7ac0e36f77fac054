package trace

import (
	"context"
	"reflect"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// StartOption configures a span at Start. It is a value, not a closure, and holds the first attributes inline,
// so that passing options allocates nothing.
type StartOption struct {
	set      uint8
	kind     Kind
	nattrs   uint8
	attrs    [inlineOptAttrs]Attr // the first attributes of WithAttrs
	more     []Attr               // the rest, copied
	links    []Link
	time     int64
	service  string
	resource string
	typ      string
	cause    EventRef
}

const (
	optKind uint8 = 1 << iota
	optTime
	optService
	optResource
	optType
	optNewRoot
	optCause
)

// WithKind sets the span's kind (KindInternal if not given).
func WithKind(k Kind) StartOption { return StartOption{set: optKind, kind: k} }

const inlineOptAttrs = 5

// WithAttrs adds attributes at start; samplers see them (e.g. http.route for a rule). Up to five cost no
// allocation.
func WithAttrs(attrs ...Attr) StartOption {
	// Copying, rather than keeping the slice, lets the compiler leave the caller's attrs on its stack.
	o := StartOption{nattrs: uint8(min(len(attrs), inlineOptAttrs))}
	copy(o.attrs[:], attrs)
	if len(attrs) > inlineOptAttrs {
		o.more = append([]Attr(nil), attrs[inlineOptAttrs:]...)
	}
	return o
}

// WithLinks adds links to other spans.
func WithLinks(links ...Link) StartOption { return StartOption{links: links} }

// WithStartTime sets the start time instead of now.
func WithStartTime(t time.Time) StartOption { return StartOption{set: optTime, time: t.UnixNano()} }

// WithService sets the span's own service name (Datadog style), overriding the resource's for this span.
func WithService(service string) StartOption { return StartOption{set: optService, service: service} }

// WithResource sets what the span served, Datadog style: a route, a query, a method.
func WithResource(resource string) StartOption {
	return StartOption{set: optResource, resource: resource}
}

// WithType sets the kind of work, Datadog style: http, db, cache, rpc, queue, custom.
func WithType(spanType string) StartOption { return StartOption{set: optType, typ: spanType} }

// WithNewRoot starts a new trace even if ctx has a current span.
func WithNewRoot() StartOption { return StartOption{set: optNewRoot} }

// WithCause names the event the span's start waited for (a message's send event, a lock's release), when the
// library cannot know it from the context.
func WithCause(cause EventRef) StartOption { return StartOption{set: optCause, cause: cause} }

// Span is a recording span: an operation being timed. Start returns nil for a span that is not recorded (its
// trace was not sampled); every method of a nil *Span does nothing, so callers never check. Methods are safe for
// concurrent use. A Span must not be used after End: its memory is reused for later spans once exported. The
// context Start returns is not: it may be kept and used after End (it then has no recording span, and children
// started from it are children of the ended span).
type Span struct {
	// live is the key of the span's ID while the span is live, zero once it has ended: contexts made for this life
	// (which hold the ID) reach the span only while it is theirs, and every life has a new random ID. Start and
	// End set it; read atomically.
	live liveKey
	unit *unit
	p    *Provider
	// tr is the span's trace: what its children inherit (it marks a unitary candidate, recorded, not sampled,
	// kept at End only if the sampler says so). Set by Start, never nil in a started span.
	tr   *traceInfo
	lane *lane     // unit and tr, for the contexts made for the span
	st   spanState // the lock of the span's methods, and whether the span has ended
	// eventAttrs says that an event of this life had attributes, which reset must clear (under st's lock).
	eventAttrs bool
	// cold says that this life wrote a field of data beyond Counters (a status message, a service, an event, a
	// link, a dropped count, a cause, an end unit), which reset then clears; a span that wrote none has reset
	// touch only its first four cache lines, the ones every start and end writes (see prefetchSpan).
	cold bool
	data SpanData
	// attrBuf holds the first attributes; data.Attrs spills to the heap after that.
	attrBuf [8]Attr
}

// Tracer starts spans for one instrumentation scope (a library or a part of the program).
type Tracer struct {
	p     *Provider
	scope string
}

// Provider returns the provider the tracer belongs to.
func (t *Tracer) Provider() *Provider { return t.p }

// Start starts a span named name as a child of the current span in ctx (or a root span if ctx has none) and
// returns a context whose current span is the new one. It returns a nil *Span, whose methods do nothing, when
// the span is not recorded; SpanContextFromContext still gives the trace's IDs for propagation.
func Start(ctx context.Context, name string, opts ...StartOption) (context.Context, *Span) {
	return Default().tracer.Start(ctx, name, opts...)
}

// Start starts a span; see the package-level Start.
func (t *Tracer) Start(ctx context.Context, name string, opts ...StartOption) (context.Context, *Span) {
	if ctx == nil {
		ctx = context.Background()
	}
	newRoot := false
	for i := range opts {
		if opts[i].set&optNewRoot != 0 {
			newRoot = true
		}
	}
	n, ok := ctx.(*node) // the common case, a context Start returned (nodeFrom, without the call)
	if !ok {
		n = nodeFrom(ctx)
	}
	// The common case: a child of a recording span (live or ended: the node keeps what its children inherit),
	// which joins its parent's trace and lane without asking the sampler.
	if n != nil && !newRoot {
		if n.span != nil {
			if l := n.lane; l != nil && l.tr != nil && l.unit != nil {
				return t.startChild(ctx, n, l, name, opts)
			}
		} else if tr := n.trace(); tr != nil && !tr.remote && tr.flags&FlagSampled == 0 {
			// A local child of a span that was not recorded costs a lookup and a count.
			t.p.count(countUnrecorded)
			return ctx, nil
		}
	}
	return t.start(ctx, n, newRoot, name, opts)
}

// startChild starts a child of the recording span of n, on n's lane (its unit and trace); what Start does for
// most spans, kept apart from the rest of start so that it compiles to a short path.
func (t *Tracer) startChild(ctx context.Context, n *node, l *lane, name string, opts []StartOption) (context.Context, *Span) {
	p := t.p
	s, nd, id := p.get()
	d := &s.data
	t.apply(s, name, opts)
	tr, u := l.tr, l.unit
	if s.tr != tr {
		s.tr = tr
	}
	d.TraceID, d.ParentID = tr.id, n.spanID
	d.Flags, d.Priority = tr.flags, tr.priority
	setString(&d.TraceState, tr.state)
	if tr.candidate {
		p.count(countCandidate)
	}
	d.SpanID = id
	s.live.set(id.key())
	if s.unit != u {
		s.unit = u
	}
	if s.lane != l {
		s.lane = l
	}
	d.Unit = u.id
	d.StartSeq = u.seq.Add(1)
	if d.StartSeq == 1 && !d.StartCause.IsValid() && u.cause.IsValid() { // the unit's first event waited for its fork
		d.StartCause, s.cold = u.cause, true
	}
	if d.Start == 0 {
		d.Start = now()
	}
	if nd == nil {
		nd = nodes.Take()
	}
	nd.set(ctx, s, l)
	return nd, s
}

// start starts every span but a child of a recording span: a root, a child of a remote or bare span context, or
// of a span that was not recorded. n is ctx's node, if any.
func (t *Tracer) start(ctx context.Context, n *node, newRoot bool, name string, opts []StartOption) (context.Context, *Span) {
	p := t.p
	ctxNode := n // a new root still runs on ctx's unit if it is not recorded
	if newRoot {
		n = nil
	}
	// A node made for a recording span (live or ended: the node keeps what its children inherit) makes the new
	// span its child without asking the sampler; any other span context asks it.
	var parent *traceInfo
	if n != nil {
		parent = n.trace()
	}

	s, nd, id := p.get()
	d := &s.data
	t.apply(s, name, opts)
	var remoteCause EventRef
	if parent != nil && n.span != nil { // a node of a recording span with no lane or unit, which Start never makes
		if s.tr != parent {
			s.tr = parent
		}
		d.TraceID, d.ParentID = parent.id, n.spanID
		d.Flags, d.Priority = parent.flags, parent.priority
		setString(&d.TraceState, parent.state)
		if parent.candidate {
			p.count(countCandidate)
		}
	} else {
		var psc SpanContext
		tr := traceInfo{priority: PriorityUnset}
		if parent != nil {
			psc = n.sc()
			tr.id, tr.state, tr.priority, tr.origin = parent.id, parent.state, parent.priority, parent.origin
			if !tr.id.IsValid() { // a remote decision only: a new trace, which the sampler may decide as told
				tr.id = newTraceID()
			}
			d.ParentID = n.spanID
			if parent.causeUnit != 0 {
				remoteCause = EventRef{EventID: parent.cause()}
			}
		} else {
			tr.id = newTraceID()
		}
		d.TraceID = tr.id
		setString(&d.TraceState, tr.state)
		res := p.sampler.ShouldSample(SamplingParams{
			TraceID: tr.id, Parent: psc, Name: name, Kind: d.Kind, Service: d.ServiceName(), Attrs: d.Attrs,
		})
		if res.Priority != PriorityUnset {
			tr.priority = res.Priority
		}
		decision := res.Decision
		if decision == UnitaryCandidate && p.unitary == nil {
			decision = Drop
		}
		switch decision {
		case RecordAndSample:
			tr.flags |= FlagSampled
			if tr.priority == PriorityUnset || tr.priority <= 0 {
				tr.priority = 1
			}
		case UnitaryCandidate:
			tr.candidate = true
			p.count(countCandidate)
			if tr.priority == PriorityUnset {
				tr.priority = 0
			}
		default:
			return p.drop(ctx, ctxNode, s, psc, &tr)
		}
		d.Flags, d.Priority = tr.flags, tr.priority
		s.tr = traces.Take()
		*s.tr = tr
	}

	d.SpanID = id
	s.live.set(id.key())
	var u *unit
	if n != nil {
		u = n.onUnit()
	}
	if u == nil {
		u = newUnit()
	}
	if s.unit != u {
		s.unit = u
	}
	// A child on its parent's unit, in its parent's trace, shares the parent's lane (the common case: no
	// object but the node). Only a new unit or a new sampling decision makes one.
	l := s.lane
	if n != nil && n.lane != nil && n.lane.unit == u && n.lane.tr == s.tr {
		l = n.lane
	} else if l == nil || l.unit != u || l.tr != s.tr {
		l = newLane(u, s.tr)
	}
	if s.lane != l {
		s.lane = l
	}
	d.Unit = u.id
	d.StartSeq = u.seq.Add(1)
	switch {
	case d.StartCause.IsValid(): // WithCause
	case remoteCause.IsValid():
		d.StartCause, s.cold = remoteCause, true
	case d.StartSeq == 1 && u.cause.IsValid():
		d.StartCause, s.cold = u.cause, true
	}
	if d.Start == 0 {
		d.Start = now()
	}
	if nd == nil {
		nd = nodes.Take()
	}
	nd.set(ctx, s, l)
	return nd, s
}

// apply writes the name and options into a fresh span.
func (t *Tracer) apply(s *Span, name string, opts []StartOption) {
	d := &s.data
	setString(&d.Name, name)
	d.Kind = KindInternal
	if d.Resource != t.p.resource {
		d.Resource = t.p.resource
	}
	setString(&d.Scope, t.scope)
	for i := range opts {
		o := &opts[i]
		if o.set&optKind != 0 {
			d.Kind = o.kind
		}
		if o.set&optTime != 0 {
			d.Start = o.time
		}
		if o.set&(optService|optResource|optType|optCause) != 0 || len(o.links) > 0 {
			s.cold = true
		}
		if o.set&optService != 0 {
			d.Service = o.service
		}
		if o.set&optResource != 0 {
			d.SpanResource = o.resource
		}
		if o.set&optType != 0 {
			d.SpanType = o.typ
		}
		if o.set&optCause != 0 {
			d.StartCause = o.cause
		}
		if o.nattrs > 0 {
			dropped := d.addAttrs(o.attrs[:o.nattrs], t.p.limits.attrs)
			if d.addAttrs(o.more, t.p.limits.attrs) || dropped {
				s.cold = true
			}
		}
		for _, l := range o.links {
			if len(d.Links) >= t.p.limits.links {
				d.DroppedLinks++
				continue
			}
			d.Links = append(d.Links, l)
			ld := &d.Links[len(d.Links)-1]
			ld.Attrs = append([]Attr(nil), l.Attrs...)
		}
	}
}

// addAttrs appends attributes within the limit, counting those it drops; it reports whether it dropped some.
func (d *SpanData) addAttrs(attrs []Attr, limit int) (dropped bool) {
	room := limit - len(d.Attrs)
	if room < len(attrs) {
		d.DroppedAttrs += len(attrs) - max(room, 0)
		attrs, dropped = attrs[:max(room, 0)], true
	}
	d.Attrs = append(d.Attrs, attrs...)
	return dropped
}

// drop ends the life of a span the sampler refused: the context returned carries the trace as not sampled.
func (p *Provider) drop(ctx context.Context, n *node, s *Span, psc SpanContext, tr *traceInfo) (context.Context, *Span) {
	sc := SpanContext{TraceID: tr.id, SpanID: psc.SpanID, TraceState: tr.state, Priority: tr.priority,
		Origin: tr.origin, Cause: psc.Cause}
	if !psc.IsValid() {
		sc.SpanID = newSpanID()
	}
	p.count(countDropped)
	p.release(s)
	// One node per unsampled request, so that the spans started under it take the fast path.
	var u *unit
	if n != nil {
		u = n.onUnit()
	}
	return newNode(ctx, u, sc), nil
}

// SpanContext returns the span's context: what a propagator injects. Zero for a nil span.
func (s *Span) SpanContext() SpanContext {
	if s == nil {
		return SpanContext{}
	}
	d := &s.data
	return SpanContext{TraceID: d.TraceID, SpanID: d.SpanID, Flags: d.Flags, TraceState: d.TraceState,
		Priority: d.Priority, Origin: s.tr.origin}
}

// IsRecording reports whether the span records (it is not nil).
func (s *Span) IsRecording() bool { return s != nil }

// Unit returns the execution unit the span started on.
func (s *Span) Unit() uint64 {
	if s == nil {
		return 0
	}
	return s.data.Unit
}

// SetName changes the span's name.
func (s *Span) SetName(name string) {
	if s == nil {
		return
	}
	if s.st.lock() {
		s.data.Name = name
		s.st.unlock()
	}
}

// SetAttrs sets attributes, replacing any with the same key.
func (s *Span) SetAttrs(attrs ...Attr) {
	if s == nil {
		return
	}
	if !s.st.lock() {
		return
	}
	defer s.st.unlock()
	d := &s.data
next:
	for _, a := range attrs {
		for i := range d.Attrs {
			if d.Attrs[i].Key == a.Key {
				d.Attrs[i].Value = a.Value
				continue next
			}
		}
		if len(d.Attrs) >= s.p.limits.attrs {
			d.DroppedAttrs, s.cold = d.DroppedAttrs+1, true
			continue
		}
		d.Attrs = append(d.Attrs, a)
	}
}

// SetStatus sets the outcome. An error status is not overwritten by OK's absence: SetStatus(StatusUnset, "")
// is ignored once a status is set.
func (s *Span) SetStatus(code StatusCode, message string) {
	if s == nil {
		return
	}
	if code == StatusUnset || !s.st.lock() {
		return
	}
	s.data.StatusCode = code
	if code == StatusError {
		s.data.StatusMessage, s.cold = message, true
	} else if s.cold {
		s.data.StatusMessage = ""
	}
	s.st.unlock()
}

// SetService sets the span's own service name (Datadog style).
func (s *Span) SetService(service string) {
	if s != nil {
		s.setString(&s.data.Service, service)
	}
}

// SetResource sets what the span served (Datadog style): a route, a query, a method.
func (s *Span) SetResource(resource string) {
	if s != nil {
		s.setString(&s.data.SpanResource, resource)
	}
}

// SetType sets the kind of work (Datadog style): http, db, cache, rpc, queue, custom.
func (s *Span) SetType(spanType string) {
	if s != nil {
		s.setString(&s.data.SpanType, spanType)
	}
}

// setString sets one of the span's cold strings (Service, SpanResource, SpanType).
func (s *Span) setString(field *string, v string) {
	if s.st.lock() {
		*field, s.cold = v, true
		s.st.unlock()
	}
}

// RecordError records err as an "exception" span event (exception.type, exception.message, and attrs) and sets
// the span's status to error with err's message. A nil err does nothing.
func (s *Span) RecordError(err error, attrs ...Attr) {
	if s == nil || err == nil {
		return
	}
	msg := err.Error()
	all := make([]Attr, 0, 2+len(attrs))
	all = append(all, String("exception.type", reflect.TypeOf(err).String()), String("exception.message", msg))
	all = append(all, attrs...)
	s.addEvent(s.unit, 0, "exception", EventRef{}, all)
	s.SetStatus(StatusError, msg)
}

// AddEvent records a span event now, on the span's execution unit, and returns its event ID.
func (s *Span) AddEvent(name string, attrs ...Attr) EventID {
	if s == nil {
		return EventID{}
	}
	return s.addEvent(s.unit, 0, name, EventRef{}, attrs)
}

// AddEventAt records a span event with the given time (for bridges from APIs that take one).
func (s *Span) AddEventAt(t time.Time, name string, attrs ...Attr) EventID {
	if s == nil {
		return EventID{}
	}
	return s.addEvent(s.unit, t.UnixNano(), name, EventRef{}, attrs)
}

// AddCausalEvent records a span event that waited for cause (weft.receive with the send event, weft.lock.acquire
// with the release), on the execution unit of ctx when it has one, else the span's.
func (s *Span) AddCausalEvent(ctx context.Context, name string, cause EventRef, attrs ...Attr) EventID {
	if s == nil {
		return EventID{}
	}
	u := s.unit
	if n := nodeFrom(ctx); n != nil && n.onUnit() != nil {
		u = n.onUnit()
	}
	return s.addEvent(u, 0, name, cause, attrs)
}

func (s *Span) addEvent(u *unit, t int64, name string, cause EventRef, attrs []Attr) EventID {
	return s.addEventLive(anyLife, u, t, name, cause, attrs)
}

// anyLife is the live key addEventLive is given by the span's own methods, which hold a live span.
const anyLife = 0

// addEventLive records an event if the span is still in the life whose key is live: what a context records
// through, since the context may have outlived the span (whose memory may already record another).
func (s *Span) addEventLive(live uint64, u *unit, t int64, name string, cause EventRef, attrs []Attr) EventID {
	if t == 0 {
		t = now()
	}
	if !s.st.lock() { // ended
		return EventID{}
	}
	defer s.st.unlock()
	d := &s.data
	// The generation first: a context that outlived the span must not read anything else of it, which a new
	// life's Start may be writing (End moved the generation on before it let the span go, so this sees it).
	if live != anyLife && s.live.Load() != live {
		return EventID{}
	}
	s.cold = true
	if len(d.Events) >= s.p.limits.events {
		d.DroppedEvents++
		return EventID{}
	}
	seq := u.seq.Add(1)
	if len(d.Events) < cap(d.Events) {
		d.Events = d.Events[:len(d.Events)+1]
	} else {
		d.Events = append(d.Events, Event{})
	}
	e := &d.Events[len(d.Events)-1]
	e.Time, e.Unit, e.Seq, e.Cause = t, u.id, seq, cause
	// A reused event holds its last name and an empty attribute slice (SpanData.reset): pointers are written
	// only when they change, since each costs a write barrier while the collector marks.
	setString(&e.Name, name)
	if len(attrs) > 0 || len(e.Attrs) > 0 {
		e.Attrs = append(e.Attrs[:0], attrs...)
		s.eventAttrs = true
	}
	return EventID{Unit: u.id, Seq: seq}
}

// AddLink adds a link to another span.
func (s *Span) AddLink(l Link) {
	if s == nil {
		return
	}
	if !s.st.lock() {
		return
	}
	defer s.st.unlock()
	d := &s.data
	s.cold = true
	if len(d.Links) >= s.p.limits.links {
		d.DroppedLinks++
		return
	}
	l.Attrs = append([]Attr(nil), l.Attrs...)
	d.Links = append(d.Links, l)
}

// AddBytesIn counts bytes received; written as weft.bytes.in at End. It never allocates.
func (s *Span) AddBytesIn(n int64) {
	if s != nil {
		atomic.AddInt64(&s.data.Counters.BytesIn, n)
	}
}

// AddBytesOut counts bytes sent; written as weft.bytes.out at End.
func (s *Span) AddBytesOut(n int64) {
	if s != nil {
		atomic.AddInt64(&s.data.Counters.BytesOut, n)
	}
}

// AddRetries counts retries of the span's operation; written as weft.retries at End.
func (s *Span) AddRetries(n int64) {
	if s != nil {
		atomic.AddInt64(&s.data.Counters.Retries, n)
	}
}

// End ends the span now. Calls after the first do nothing.
func (s *Span) End() {
	if s != nil {
		s.end(0)
	}
}

// EndAt ends the span at the given time.
func (s *Span) EndAt(t time.Time) {
	if s != nil {
		s.end(t.UnixNano())
	}
}

// EndIn ends the span now, recording its end event on the execution unit of ctx: for a span started on one
// goroutine and ended on another (an asynchronous call's callback), so that its end is placed where it happened.
func (s *Span) EndIn(ctx context.Context) {
	if s == nil {
		return
	}
	u := s.unit
	if n := nodeFrom(ctx); n != nil && n.onUnit() != nil {
		u = n.onUnit()
	}
	s.endOn(0, u)
}

func (s *Span) end(t int64) { s.endOn(t, s.unit) }

func (s *Span) endOn(t int64, u *unit) {
	if t == 0 {
		t = now()
	}
	if !s.st.end() { // which also waits for a concurrent method that saw the span live
		return
	}
	s.live.set(0) // contexts made for this life no longer reach the span
	d := &s.data
	d.End = max(t, d.Start) // a wall-clock step between start and end never makes a negative duration
	d.EndSeq = u.seq.Add(1)
	if u != s.unit {
		d.EndUnit, s.cold = u.id, true
	}
	c := &d.Counters
	c.BytesIn, c.BytesOut, c.Retries = atomic.LoadInt64(&c.BytesIn), atomic.LoadInt64(&c.BytesOut), atomic.LoadInt64(&c.Retries)
	if c.BytesIn != 0 {
		d.Attrs = append(d.Attrs, Int64(AttrBytesIn, c.BytesIn))
	}
	if c.BytesOut != 0 {
		d.Attrs = append(d.Attrs, Int64(AttrBytesOut, c.BytesOut))
	}
	if c.Retries != 0 {
		d.Attrs = append(d.Attrs, Int64(AttrRetries, c.Retries))
	}
	s.p.finish(s)
}

// liveKey says which life of a span is current. One goroutine at a time sets it: Start, on a span that it alone
// holds, and End, holding the span's lock. Others read it without the lock and only compare it with a key they
// hold, so a release store is enough to set it (publish: a plain store on amd64, not a locked instruction).
type liveKey struct{ v uint64 }

// Load reads the key from any goroutine.
func (k *liveKey) Load() uint64 { return atomic.LoadUint64(&k.v) }

// set changes the key; only the goroutine that holds the span does.
func (k *liveKey) set(v uint64) { publish(&k.v, v) }

// spanState is a span's lock and whether the span has ended, in one word. Its methods take the lock to read or
// write the span; End moves it from open (unlocked) to ended with one compare-and-swap and never releases it, so
// that ending a span costs one locked instruction rather than a lock and an unlock, and every later method call
// sees the span ended without writing anything. The span's next life opens it again (reopen), once nothing but
// the goroutine starting that life can reach it. Contention is rare (two goroutines using one span at the same
// moment) and critical sections are short, so a waiter yields its P and tries again.
type spanState struct{ v uint32 }

// The values of a spanState.
const (
	spanOpen   uint32 = iota // live, unlocked
	spanLocked               // live, locked by a method
	spanEnded                // ended: never locked again in this life
)

// lock takes the lock; false, without it, once the span has ended.
func (st *spanState) lock() bool {
	if atomic.CompareAndSwapUint32(&st.v, spanOpen, spanLocked) {
		return true
	}
	return st.wait(spanLocked)
}

// unlock releases the lock lock took.
func (st *spanState) unlock() { publish32(&st.v, spanOpen) }

// end marks the span ended, waiting for a method that holds the lock; false if it had ended already.
func (st *spanState) end() bool {
	if atomic.CompareAndSwapUint32(&st.v, spanOpen, spanEnded) {
		return true
	}
	return st.wait(spanEnded)
}

// wait moves the state from open to to once the lock is free; false if the span has ended.
func (st *spanState) wait(to uint32) bool {
	for {
		switch atomic.LoadUint32(&st.v) {
		case spanEnded:
			return false
		case spanOpen:
			if atomic.CompareAndSwapUint32(&st.v, spanOpen, to) {
				return true
			}
		default:
			runtime.Gosched()
		}
	}
}

// reopen opens the span for its next life; only the goroutine that took the ended span for reuse calls it.
func (st *spanState) reopen() {
	if atomic.LoadUint32(&st.v) != spanOpen { // a plain load on amd64
		publish32(&st.v, spanOpen)
	}
}

// spanOf returns the Span that holds d.
func spanOf(d *SpanData) *Span {
	return (*Span)(unsafe.Add(unsafe.Pointer(d), -int(unsafe.Offsetof(Span{}.data))))
}
