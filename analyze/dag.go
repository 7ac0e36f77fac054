package analyze

import (
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
	seq  uint32
	kind uint8
	span int32 // index of the span the event belongs to
	ev   int32 // index into the span's Events for evSpan
	time int64 // raw time, on the span's process clock
}

// evPos places an event: events[unit][k].
type evPos struct{ unit, k int32 }

var noEvent = evPos{-1, -1}

// dag is a weft trace's events, per execution unit in sequence order.
type dag struct {
	trace   model.TraceID
	units   map[uint64]int32
	unitIDs []uint64 // unitIDs[u] is the execution unit numbered u here
	events  [][]event
	owner   [][]int32 // owner[u][k]: the span that was running on unit u between events k-1 and k
	startAt []evPos   // per span; noEvent for a foreign span
	endAt   []evPos
}

// buildDAG indexes the events of spans that carry causality.
func buildDAG(spans []*model.Span) *dag {
	d := &dag{units: make(map[uint64]int32), startAt: make([]evPos, len(spans)), endAt: make([]evPos, len(spans))}
	if len(spans) > 0 {
		d.trace = spans[0].TraceID
	}
	add := func(unit uint64, e event) {
		u, ok := d.units[unit]
		if !ok {
			u = int32(len(d.events))
			d.units[unit] = u
			d.events = append(d.events, nil)
			d.unitIDs = append(d.unitIDs, unit)
		}
		d.events[u] = append(d.events[u], e)
	}
	for i, s := range spans {
		c := &s.Causality
		if c.IsZero() {
			continue
		}
		add(c.Unit, event{seq: c.StartSeq, kind: evStart, span: int32(i), time: s.Start})
		endUnit := c.EndUnit
		if endUnit == 0 {
			endUnit = c.Unit
		}
		add(endUnit, event{seq: c.EndSeq, kind: evEnd, span: int32(i), time: s.End()})
		for j := range s.Events {
			e := &s.Events[j]
			if e.Seq == 0 {
				continue
			}
			unit := e.Unit
			if unit == 0 {
				unit = c.Unit
			}
			add(unit, event{seq: e.Seq, kind: evSpan, span: int32(i), ev: int32(j), time: e.Time})
		}
	}
	for i := range d.startAt {
		d.startAt[i], d.endAt[i] = noEvent, noEvent
	}
	d.owner = make([][]int32, len(d.events))
	var stack []int32
	for u, evs := range d.events {
		slices.SortFunc(evs, func(a, b event) int {
			if a.seq != b.seq {
				return int(int64(a.seq) - int64(b.seq))
			}
			return int(a.kind) - int(b.kind)
		})
		own := make([]int32, len(evs))
		stack = stack[:0]
		for k := range evs {
			e := &evs[k]
			switch {
			case len(stack) > 0:
				own[k] = stack[len(stack)-1]
			case e.kind != evStart || k == 0:
				own[k] = e.span
			default:
				own[k] = evs[k-1].span
			}
			s := spans[e.span]
			switch e.kind {
			case evStart:
				d.startAt[e.span] = evPos{int32(u), int32(k)}
				// A span that ends on another unit is not pushed: after handing it off, this unit runs its parent.
				if s.Causality.EndUnit == 0 || s.Causality.EndUnit == s.Causality.Unit {
					stack = append(stack, e.span)
				}
			case evEnd:
				d.endAt[e.span] = evPos{int32(u), int32(k)}
				for j := len(stack) - 1; j >= 0; j-- {
					if stack[j] == e.span {
						stack = append(stack[:j], stack[j+1:]...)
						break
					}
				}
			}
		}
		d.owner[u] = own
	}
	return d
}

func (d *dag) at(p evPos) *event { return &d.events[p.unit][p.k] }

// find locates the event a reference names in this trace; references into other traces are not followed.
func (d *dag) find(r model.EventRef) evPos {
	if r.IsZero() || (!r.TraceID.IsZero() && r.TraceID != d.trace) {
		return noEvent
	}
	u, ok := d.units[r.Unit]
	if !ok {
		return noEvent
	}
	evs := d.events[u]
	k, found := slices.BinarySearchFunc(evs, r.Seq, func(e event, seq uint32) int { return int(int64(e.seq) - int64(seq)) })
	if !found {
		return noEvent
	}
	return evPos{u, int32(k)}
}

// cause is the event that event p waited for, if it names one in this trace.
func (d *dag) cause(spans []*model.Span, p evPos) evPos {
	e := d.at(p)
	s := spans[e.span]
	switch e.kind {
	case evStart:
		return d.find(s.Causality.StartCause)
	case evSpan:
		return d.find(s.Events[e.ev].Cause)
	}
	return noEvent
}
