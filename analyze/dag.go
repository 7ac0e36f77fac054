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

// event is one node of the event DAG.
type event struct {
	seq     uint32
	kind    uint8
	handoff bool  // a start event of a span that ends on another unit
	unit    int32 // index into dag.unitIDs
	span    int32 // index of the span the event belongs to
	cause   int32 // index of the event this one waited for, -1 when it names none in this trace
	ref     int32 // while building: index into the references collected, -1 for none
	owner   int32 // the span running on the unit between the previous event and this one
	time    int64 // raw time, on the span's process clock
}

// dag is a weft trace's events in one array, grouped by execution unit and in sequence order within a unit.
type dag struct {
	trace     model.TraceID
	units     idTable
	unitIDs   []uint64 // unitIDs[u] is the execution unit numbered u here
	unitStart []int32  // the events of unit u are events[unitStart[u]:unitStart[u+1]]
	events    []event
	repliedTo []bool  // see replied; computed once
	startAt   []int32 // per span, its start event; -1 for a foreign span
	endAt     []int32
}

// buildDAG indexes the events of spans that carry causality and resolves every cause.
func buildDAG(spans []*model.Span) *dag {
	d := &dag{startAt: make([]int32, len(spans)), endAt: make([]int32, len(spans))}
	if len(spans) > 0 {
		d.trace = spans[0].TraceID
	}
	lastID, lastU := uint64(0), int32(-1)
	unit := func(id uint64) int32 {
		if id == lastID && lastU >= 0 {
			return lastU
		}
		u, ok := d.units.get(id)
		if !ok {
			u = int32(len(d.unitIDs))
			d.units.put(id, u)
			d.unitIDs = append(d.unitIDs, id)
		}
		lastID, lastU = id, u
		return u
	}
	// Two passes over the spans: count each unit's events, then place every event in its unit's range.
	var counts []int32
	count := func(id uint64) {
		u := unit(id)
		if int(u) == len(counts) {
			counts = append(counts, 0)
		}
		counts[u]++
	}
	for i, s := range spans {
		d.startAt[i], d.endAt[i] = -1, -1
		c := &s.Causality
		if c.IsZero() {
			continue
		}
		count(c.Unit)
		for j := range s.Events {
			if e := &s.Events[j]; e.Seq != 0 {
				count(cmp.Or(e.Unit, c.Unit))
			}
		}
		count(cmp.Or(c.EndUnit, c.Unit))
	}
	d.unitStart = make([]int32, len(d.unitIDs)+1)
	for u, n := range counts {
		d.unitStart[u+1] = d.unitStart[u] + n
	}
	d.events = make([]event, d.unitStart[len(d.unitIDs)])
	fill := slices.Clone(d.unitStart[:len(d.unitIDs)])
	place := func(id uint64, e event) {
		u := unit(id)
		e.unit = u
		d.events[fill[u]] = e
		fill[u]++
	}
	var refs []model.EventRef
	ref := func(r model.EventRef) int32 {
		if r.IsZero() {
			return -1
		}
		refs = append(refs, r)
		return int32(len(refs) - 1)
	}
	for i, s := range spans {
		c := &s.Causality
		if c.IsZero() {
			continue
		}
		handoff := c.EndUnit != 0 && c.EndUnit != c.Unit
		place(c.Unit, event{seq: c.StartSeq, kind: evStart, handoff: handoff, span: int32(i), ref: ref(c.StartCause), time: s.Start})
		for j := range s.Events {
			if e := &s.Events[j]; e.Seq != 0 {
				place(cmp.Or(e.Unit, c.Unit), event{seq: e.Seq, kind: evSpan, span: int32(i), ref: ref(e.Cause), time: e.Time})
			}
		}
		place(cmp.Or(c.EndUnit, c.Unit), event{seq: c.EndSeq, kind: evEnd, span: int32(i), ref: -1, time: s.End()})
	}
	bySeq := func(a, b event) int {
		if a.seq != b.seq {
			return cmpInt64(int64(a.seq), int64(b.seq))
		}
		return int(a.kind) - int(b.kind)
	}
	var stack []int32
	for u := range d.unitIDs {
		evs := d.events[d.unitStart[u]:d.unitStart[u+1]]
		if !slices.IsSortedFunc(evs, bySeq) {
			slices.SortFunc(evs, bySeq)
		}
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
			idx := d.unitStart[u] + int32(k)
			switch e.kind {
			case evStart:
				d.startAt[e.span] = idx
				// A span that ends on another unit is not pushed: after handing it off, this unit runs its parent.
				if !e.handoff {
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
	}
	for i := range d.events {
		e := &d.events[i]
		e.cause = -1
		if e.ref >= 0 {
			e.cause = d.find(refs[e.ref])
		}
	}
	return d
}

// find locates the event a reference names in this trace, or -1; references into other traces are not followed.
func (d *dag) find(r model.EventRef) int32 {
	if r.IsZero() || (!r.TraceID.IsZero() && r.TraceID != d.trace) {
		return -1
	}
	u, ok := d.units.get(r.Unit)
	if !ok {
		return -1
	}
	lo, hi := d.unitStart[u], d.unitStart[u+1]
	k, found := slices.BinarySearchFunc(d.events[lo:hi], r.Seq, func(e event, seq uint32) int { return cmpInt64(int64(e.seq), int64(seq)) })
	if !found {
		return -1
	}
	return lo + int32(k)
}

// prev is the event before i on the same unit, or -1.
func (d *dag) prev(i int32) int32 {
	if i > d.unitStart[d.events[i].unit] {
		return i - 1
	}
	return -1
}

// replied marks the server spans whose reply their client named: an event of the client span (a weft.receive)
// whose cause is an event of its child server span. For those the reply is in the DAG exactly, and the rule that
// a client's end waits for its server's end (which may come after the client has read the reply) is not needed.
func (d *dag) replied(t *tree) []bool {
	if d.repliedTo != nil {
		return d.repliedTo
	}
	out := make([]bool, len(t.spans))
	d.repliedTo = out
	for i := range d.events {
		e := &d.events[i]
		if e.kind != evSpan || e.cause < 0 {
			continue
		}
		if s := d.events[e.cause].span; t.parent[s] == e.span {
			out[s] = true
		}
	}
	return out
}
