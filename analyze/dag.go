package analyze

import (
	"cmp"
	"slices"

	"github.com/weftrace/weft/model"
)

// The kinds of event a weft span contributes to the trace's DAG.
const (
	evStart uint8 = iota
	evEnd
	evSpan // one of the span's own events (fork, join, send, receive, lock, ...)
)

// Event flags.
const (
	evHandoff uint8 = 1 << iota // a start event of a span that ends on another unit
	evFirst                     // the first event of its unit
)

// manyProcs is event.proc for a span whose process has no number that fits (bad input with more than 65534
// processes): its offset is found through the span.
const manyProcs = 1<<16 - 1

// event is one node of the event DAG.
type event struct {
	seq   uint32
	kind  uint8
	flags uint8  // evHandoff, evFirst
	proc  uint16 // the span's process as procTable numbers it (or manyProcs): the walk and the clock read it here
	unit  int32  // index into dag.unitIDs
	span  int32  // index of the span the event belongs to
	// cause is the index of the event this one waited for, -1 when it names none in this trace; while building,
	// the index of its reference in dagBuilder.refs, -1 for none.
	cause int32
	owner int32 // the span running on the unit between the previous event and this one
	time  int64 // raw time, on the span's process clock
}

// dag is a weft trace's events in one array, grouped by execution unit and in sequence order within a unit.
type dag struct {
	trace     model.TraceID
	units     idTable
	unitIDs   []uint64 // unitIDs[u] is the execution unit numbered u here
	unitStart []int32  // the events of unit u are events[unitStart[u]:unitStart[u+1]]
	// unitLo is the lowest sequence number on each unit; on a dense unit (the usual case: its events are numbered
	// lo, lo+1, ... without gaps or repeats) the event with sequence number q is events[unitStart[u]+q-lo].
	unitLo []uint32
	dense  []bool
	events []event
	// repliedTo marks the server spans whose reply their client named: an event of the client span (a
	// weft.receive) whose cause is an event of its child server span. For those the reply is in the DAG exactly,
	// and the rule that a client's end waits for its server's end (which may come after the client has read the
	// reply) is not needed. estimateClock fills it, in its pass over the causes.
	repliedTo []bool
	startAt   []int32 // per span, its start event; -1 for a foreign span
	endAt     []int32
}

// dagBuilder indexes the events of spans that carry causality and resolves every cause. The pass that builds the
// tree (tree.parents) gives it every span in turn (add), in the order of the analysis (see buildTreeDAG), which
// reads each span once.
type dagBuilder struct {
	d      *dag
	counts []int32    // events per unit
	proc   []int32    // each span's process (tree.proc)
	orig   []int32    // each span's index in the spans given (tree.orig), nil for the same
	hi     []uint32   // the highest sequence number per unit (dag.unitLo has the lowest)
	refs   []eventRef // the causes named, by event.cause while building
	// The events of every weft span (a start, its own events, an end), in span order. Until numberUnits numbers the
	// units (in a loop of its own, where the table's probes overlap instead of waiting behind each span's first
	// reads), a gathered event holds its unit's ID in unit (low half) and owner (high half); ID 0 (no unit) is
	// numbered -1 and left out of the DAG.
	gathered []event
	n        int // spans

	// scratch for finish
	stack, redo, found []int32
	again              []bool
}

// reset readies b, and the dag it builds, for spans, reusing the memory of an earlier trace.
func (b *dagBuilder) reset(spans []*model.Span) {
	n := len(spans)
	if b.d == nil {
		b.d = new(dag)
	}
	d := b.d
	d.trace = model.TraceID{}
	d.startAt, d.endAt = grow(d.startAt, n), grow(d.endAt, n)
	for i := range d.startAt {
		d.startAt[i], d.endAt[i] = -1, -1
	}
	if n > 0 {
		d.trace = spans[0].TraceID
	}
	d.unitIDs, d.unitLo, d.unitStart, d.dense, d.events = d.unitIDs[:0], d.unitLo[:0], d.unitStart[:0], d.dense[:0], d.events[:0]
	d.repliedTo = d.repliedTo[:0]
	b.n = n
	b.counts, b.hi, b.refs, b.gathered = b.counts[:0], b.hi[:0], b.refs[:0], b.gathered[:0]
}

// size sizes the arrays for a trace of weft spans, from its span count, when the first weft span comes: a foreign
// trace needs none of them. The sizes are estimates, not limits (three events per span, a unit for every two).
func (b *dagBuilder) size() {
	n := b.n
	b.gathered = slices.Grow(b.gathered, 3*n)
	b.refs = slices.Grow(b.refs, n)
	b.counts = slices.Grow(b.counts, n/2)
	b.hi = slices.Grow(b.hi, n/2)
	b.d.unitLo = slices.Grow(b.d.unitLo, n/2)
	b.d.unitIDs = slices.Grow(b.d.unitIDs, n/2)
}

// zeroed is s resized to n elements, all zero, reusing its memory when it has room.
func zeroed[T any](s []T, n int) []T {
	s = grow(s, n)
	clear(s)
	return s
}

// numberUnits numbers the gathered events' execution units, in order of appearance, counting each unit's events
// and their lowest and highest sequence numbers.
func (b *dagBuilder) numberUnits() {
	d := b.d
	d.units.reset(len(d.startAt) / 2)
	lastID, lastU := uint64(0), int32(-1)
	for g := range b.gathered {
		e := &b.gathered[g]
		id := uint64(uint32(e.unit)) | uint64(uint32(e.owner))<<32
		e.owner = 0
		if id == 0 {
			e.unit = -1
			continue
		}
		seq, u := e.seq, lastU
		if id != lastID || u < 0 {
			var ok bool
			u, ok = d.units.getOrPut(id, int32(len(d.unitIDs)))
			if !ok {
				d.unitIDs = append(d.unitIDs, id)
				b.counts = append(b.counts, 0)
				d.unitLo = append(d.unitLo, seq)
				b.hi = append(b.hi, seq)
			}
			lastID, lastU = id, u
		}
		e.unit = u
		b.counts[u]++
		d.unitLo[u] = min(d.unitLo[u], seq)
		b.hi[u] = max(b.hi[u], seq)
	}
}

func (b *dagBuilder) ref(r *model.EventRef) int32 {
	if r.IsZero() {
		return -1
	}
	if !r.TraceID.IsZero() && r.TraceID != b.d.trace { // references into other traces are not followed
		b.refs = append(b.refs, eventRef{})
	} else {
		b.refs = append(b.refs, eventRef{r.Unit, r.Seq})
	}
	return int32(len(b.refs) - 1)
}

// add gathers the events of span i, s, if it is a weft span; spans are added in the order of their index. An own
// event without a sequence number has no place in the DAG and is left out.
func (b *dagBuilder) add(i int, s *model.Span) {
	c := &s.Causality
	if c.IsZero() {
		return
	}
	if len(b.gathered) == 0 {
		b.size()
	}
	var flags uint8
	if c.EndUnit != 0 && c.EndUnit != c.Unit {
		flags = evHandoff
	}
	proc := uint16(min(b.proc[i], manyProcs))
	b.gathered = append(b.gathered, withUnit(event{seq: c.StartSeq, kind: evStart, flags: flags, proc: proc, span: int32(i), cause: b.ref(&c.StartCause), time: s.Start}, c.Unit))
	for j := range s.Events {
		if e := &s.Events[j]; e.Seq != 0 {
			b.gathered = append(b.gathered, withUnit(event{seq: e.Seq, kind: evSpan, proc: proc, span: int32(i), cause: b.ref(&e.Cause), time: e.Time}, cmp.Or(e.Unit, c.Unit)))
		}
	}
	b.gathered = append(b.gathered, withUnit(event{seq: c.EndSeq, kind: evEnd, proc: proc, span: int32(i), cause: -1, time: s.Start + s.Duration}, cmp.Or(c.EndUnit, c.Unit)))
}

// withUnit is e holding unit ID id until numberUnits: its low half in e.unit, its high half in e.owner.
func withUnit(e event, id uint64) event {
	e.unit, e.owner = int32(uint32(id)), int32(uint32(id>>32))
	return e
}

// finish places every event in its unit's range, orders each unit's events and resolves every cause. A dense
// unit's events go straight to their place (sequence number less the unit's lowest); the others are placed in
// gathering order and sorted.
func (b *dagBuilder) finish() *dag {
	b.numberUnits()
	d, counts := b.d, b.counts
	nu := len(d.unitIDs)
	d.unitStart = zeroed(d.unitStart, nu+1)
	d.dense = grow(d.dense, nu)
	for u, n := range counts {
		d.unitStart[u+1] = d.unitStart[u] + n
		d.dense[u] = uint64(b.hi[u])-uint64(d.unitLo[u])+1 == uint64(n)
	}
	d.events = zeroed(d.events, int(d.unitStart[nu])) // cleared: a hole left by repeated numbers must not look numbered
	fill := counts                                    // reused: counts are not needed once unitStart is laid out
	copy(fill, d.unitStart[:nu])
	for _, e := range b.gathered {
		u := e.unit
		if u < 0 {
			continue // no unit: not in the DAG
		}
		if d.dense[u] {
			d.events[d.unitStart[u]+int32(e.seq-d.unitLo[u])] = e
		} else {
			d.events[fill[u]] = e
			fill[u]++
		}
	}
	stack, redo := b.stack[:0], b.redo[:0]
	for u := range nu {
		evs := d.events[d.unitStart[u]:d.unitStart[u+1]]
		if d.dense[u] {
			// Repeated sequence numbers that fill the range exactly leave a hole where one was overwritten: such a
			// unit is placed again and sorted below.
			if !numbered(evs, d.unitLo[u]) {
				d.dense[u] = false
				fill[u] = d.unitStart[u]
				redo = append(redo, int32(u))
				continue
			}
		} else {
			sortEvents(evs, b.orig)
		}
		stack = d.own(int32(u), stack)
	}
	if len(redo) > 0 {
		b.again = zeroed(b.again, nu)
		again := b.again
		for _, u := range redo {
			again[u] = true
		}
		for _, e := range b.gathered {
			if u := e.unit; u >= 0 && again[u] {
				d.events[fill[u]] = e
				fill[u]++
			}
		}
		for _, u := range redo {
			sortEvents(d.events[d.unitStart[u]:d.unitStart[u+1]], b.orig)
			stack = d.own(u, stack)
		}
	}
	b.stack, b.redo = stack[:0], redo[:0]
	for u := range nu {
		d.events[d.unitStart[u]].flags |= evFirst // every unit numbered has an event
	}
	// Resolve each cause named once, in the order named, then point the events at them.
	b.found = grow(b.found, len(b.refs))
	found := b.found
	for r, ref := range b.refs {
		found[r] = d.find(ref)
	}
	for i := range d.events {
		if e := &d.events[i]; e.cause >= 0 {
			e.cause = found[e.cause]
		}
	}
	return d
}

// numbered reports whether evs are numbered lo, lo+1, ... in order.
func numbered(evs []event, lo uint32) bool {
	for k := range evs {
		if evs[k].seq != lo+uint32(k) {
			return false
		}
	}
	return true
}

// sortEvents orders a unit's events by sequence number, then kind, then (events that repeat both, in bad input) by
// their span's index in the spans given (orig, nil for the same as here), keeping a span's own events in their order:
// the same order in any numbering of the spans.
func sortEvents(evs []event, orig []int32) {
	if len(evs) <= 12 {
		sortFew(evs, orig)
		return
	}
	slices.SortStableFunc(evs, func(a, b event) int {
		if a.seq != b.seq {
			return cmpInt64(int64(a.seq), int64(b.seq))
		}
		if a.kind != b.kind {
			return int(a.kind) - int(b.kind)
		}
		return int(origOf(orig, a.span)) - int(origOf(orig, b.span))
	})
}

func origOf(orig []int32, i int32) int32 {
	if orig == nil {
		return i
	}
	return orig[i]
}

// own sets, for unit u's ordered events, the span running before each (owner) and the spans' start and end
// events; stack is scratch space, returned for reuse.
func (d *dag) own(u int32, stack []int32) []int32 {
	lo := d.unitStart[u]
	evs := d.events[lo:d.unitStart[u+1]]
	stack = stack[:0]
	for k := range evs {
		e := &evs[k]
		switch {
		case len(stack) > 0:
			e.owner = stack[len(stack)-1]
		case e.kind != evStart || k == 0:
			e.owner = e.span
		default:
			e.owner = evs[k-1].span
		}
		idx := lo + int32(k)
		switch e.kind {
		case evStart:
			d.startAt[e.span] = idx
			// A span that ends on another unit is not pushed: after handing it off, this unit runs its parent.
			if e.flags&evHandoff == 0 {
				stack = append(stack, e.span)
			}
		case evEnd:
			d.endAt[e.span] = idx
			for j := len(stack) - 1; j >= 0; j-- {
				if stack[j] == e.span {
					stack = append(stack[:j], stack[j+1:]...)
					break
				}
			}
		}
	}
	return stack
}

// sortFew is sortEvents for a unit's few events: an insertion sort on packed keys (most units have a handful of
// events), stable like the sort of sortEvents.
func sortFew(evs []event, orig []int32) {
	key := func(e *event) uint64 { return uint64(e.seq)<<8 | uint64(e.kind) }
	less := func(a, b *event) bool {
		ka, kb := key(a), key(b)
		return ka < kb || ka == kb && origOf(orig, a.span) < origOf(orig, b.span)
	}
	for i := 1; i < len(evs); i++ {
		if !less(&evs[i], &evs[i-1]) {
			continue
		}
		e, j := evs[i], i
		for ; j > 0 && less(&e, &evs[j-1]); j-- {
			evs[j] = evs[j-1]
		}
		evs[j] = e
	}
}

// eventRef is a cause named in this trace: an execution unit and a sequence number; zero when it names none here.
type eventRef struct {
	unit uint64
	seq  uint32
}

// find locates the event a reference names, or -1.
func (d *dag) find(r eventRef) int32 {
	u, ok := d.units.get(r.unit)
	if !ok {
		return -1
	}
	lo, hi := d.unitStart[u], d.unitStart[u+1]
	if d.dense[u] {
		if k := int64(r.seq) - int64(d.unitLo[u]); k >= 0 && k < int64(hi-lo) {
			return lo + int32(k)
		}
		return -1
	}
	k, found := slices.BinarySearchFunc(d.events[lo:hi], r.seq, func(e event, seq uint32) int { return cmpInt64(int64(e.seq), int64(seq)) })
	if !found {
		return -1
	}
	return lo + int32(k)
}

// prev is the event before i on the same unit, or -1.
func (d *dag) prev(i int32) int32 {
	if d.events[i].flags&evFirst == 0 {
		return i - 1
	}
	return -1
}
