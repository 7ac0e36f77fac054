package analyze

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/weftrace/weft/model"
)

// How a critical path was found.
const (
	MethodCausal    = "causal"    // on the event DAG of weft spans: exact
	MethodHeuristic = "heuristic" // on the span tree of foreign spans, which carry no events
)

// SegmentKind is the kind of a critical-path segment: SegmentRun or SegmentTransit.
type SegmentKind uint8

// Kinds of critical-path segment.
const (
	SegmentRun     SegmentKind = iota // work on one execution unit (or, for foreign spans, in the span itself)
	SegmentTransit                    // between a cause and the event that waited for it on another unit: scheduling, network
)

// String is "run" or "transit", as the JSON answers name the kinds.
func (k SegmentKind) String() string {
	if k == SegmentTransit {
		return "transit"
	}
	return "run"
}

// Segment is one stretch of a critical path, attributed to the span that was running (run) or waiting (transit):
// Path.SpanAt(int(s.Index)) is that span. It holds no pointer and takes 32 bytes: a path through most of a 100K-span
// trace has over 100K segments, and the answer is allocated for every call.
type Segment struct {
	Index      int32       // the span's index in the spans given
	Kind       SegmentKind // SegmentRun or SegmentTransit
	Unit       uint64      // the execution unit (weft spans); 0 for foreign spans
	Start, End int64       // on the root process's clock
}

// SpanTime is one span's share of the critical path and its self time (its duration less the union of its
// children's time inside it).
type SpanTime struct {
	Span     *model.Span
	Index    int
	Critical int64
	Self     int64
}

// Path is the critical path of one trace: the chain of work that set its end-to-end latency.
type Path struct {
	Method     string
	Root       *model.Span // nil for an empty trace
	Start, End int64       // the root span's, on its own (the reference) clock
	Length     int64       // the sum of the segments
	// Complete says the walk reached the root's start; it does not when an event's cause is missing.
	Complete bool
	Segments []Segment  // in time order, contiguous, never overlapping
	Spans    []SpanTime // spans on the path, most critical time first
	Clock    *Clock     // the offsets used to compare times across processes

	spans []*model.Span // the spans given
}

// SpanAt is the span of index i in the spans given, as Segment.Index and SpanTime.Index name them.
func (p *Path) SpanAt(i int) *model.Span { return p.spans[i] }

// CriticalPath finds the critical path of one trace. For a weft trace (its root span carries causality) it walks
// the event DAG back from the root's end along the dependency satisfied last: the previous event on the unit,
// the event's cause, and, for a client span's end, the end of its remote child server spans. For foreign traces it
// walks the span tree back from the root's end, taking at each point the child that ended last before it. Times of
// different processes are compared after the clock adjustment of EstimateClock with choose.
func CriticalPath(spans []*model.Span, choose Choice) *Path {
	// The scratch memory comes from a pool of workspaces (see workspace); only the answer is allocated here.
	ws := getWorkspace()
	defer ws.release()
	t, d := buildTreeDAG(spans, ws)
	clock := estimateClock(t, d, choose, ws)
	n := len(spans)
	ws.as, ws.ae = grow(ws.as, n), grow(ws.ae, n)
	// Each process's offset, by the number events carry (see event.proc): the offset of its span of lowest index.
	ws.poff = ws.poff[:0]
	for _, i := range t.procs.low {
		ws.poff = append(ws.poff, clock.Offset(int(i)))
	}
	w := &pathWalker{t: t, d: d, as: ws.as, ae: ws.ae, poff: ws.poff, replied: d.repliedTo, scratch: ws.scratch[:0],
		segs: slices.Grow(ws.segs[:0], n+n/2+8)} // a path through most spans has a few more segments
	defer func() { ws.segs, ws.scratch = w.segs[:0], w.scratch[:0] }()

	// From here on spans are numbered as the analysis numbered them (see buildTreeDAG); the answer names them by
	// their index in the spans given.
	for i, pr := range t.proc[:n] {
		off := ws.poff[pr]
		w.as[i], w.ae[i] = t.start[i]+off, t.start[i]+t.dur[i]+off
	}
	p := &Path{Method: MethodHeuristic, Clock: clock, spans: spans}
	root := t.mainRoot()
	if root < 0 {
		p.Complete = true
		return p
	}
	p.Root, p.Start, p.End = t.spans[root], w.as[root], w.ae[root]
	w.floor = w.as[root]
	if !p.Root.Causality.IsZero() && d.endAt[root] >= 0 {
		p.Method = MethodCausal
		p.Complete = w.causal(root)
	} else {
		w.heuristic(root, w.ae[root], w.floor)
		p.Complete = true
	}
	// The answer: the segments in time order (the walk found them backwards), sized exactly.
	ws.crit = zeroed(ws.crit, n)
	crit := ws.crit
	p.Segments = make([]Segment, len(w.segs))
	for k, s := range w.segs {
		p.Length += s.End - s.Start
		crit[s.Index] += s.End - s.Start
		s.Index = t.origOf(s.Index)
		p.Segments[len(w.segs)-1-k] = s
	}
	on := 0
	for _, c := range crit {
		if c > 0 {
			on++
		}
	}
	p.Spans = make([]SpanTime, 0, on)
	// Most critical first, then by index in the spans given: sorted as packed integers (the index in the low bits)
	// when the times allow, as they do for any span's critical time under 19 hours in a trace of 100K spans; that is
	// several times faster than sorting the structs, whose pointers cost a write barrier per move while the
	// collector runs.
	maxCrit, idxBits := slices.Max(crit), bits.Len(uint(n))
	if maxCrit < 1<<(63-idxBits) {
		// Self times are found in the order of the analysis, where each span's children lie next to the previous
		// one's, and kept by index in the spans given; a key holds the critical time too.
		keys := slices.Grow(ws.keys[:0], on)
		ws.self = grow(ws.self, n)
		self := ws.self
		for i, c := range crit {
			if c > 0 {
				o := t.origOf(int32(i))
				keys = append(keys, uint64(maxCrit-c)<<idxBits|uint64(o))
				self[o] = t.selfTime(int32(i), w.as, w.ae)
			}
		}
		ws.keys2 = radixSort(keys, grow(ws.keys2, len(keys)))
		ws.keys = keys[:0]
		for _, k := range keys {
			o := int(k & (1<<idxBits - 1))
			p.Spans = append(p.Spans, SpanTime{Span: spans[o], Index: o, Critical: maxCrit - int64(k>>idxBits), Self: self[o]})
		}
		return p
	}
	for i, c := range crit {
		if c > 0 {
			o := int(t.origOf(int32(i)))
			p.Spans = append(p.Spans, SpanTime{Span: spans[o], Index: o, Critical: c, Self: t.selfTime(int32(i), w.as, w.ae)})
		}
	}
	slices.SortFunc(p.Spans, func(a, b SpanTime) int {
		if a.Critical != b.Critical {
			return cmp.Compare(b.Critical, a.Critical)
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return p
}

type pathWalker struct {
	t       *tree
	d       *dag
	as, ae  []int64   // adjusted start and end per span
	poff    []int64   // offset per process, by event.proc
	floor   int64     // the root's start: nothing before it is on the path
	segs    []Segment // backwards
	scratch []int32
	replied []bool // server spans whose client names their reply: no implicit end-to-end dependency
}

// emit records [from, to] for span i, walking backwards; adjacent stretches of one span merge.
func (w *pathWalker) emit(i int32, unit uint64, kind SegmentKind, from, to int64) {
	from = max(from, w.floor)
	if to <= from {
		return
	}
	if n := len(w.segs); n > 0 {
		last := &w.segs[n-1]
		if last.Index == i && last.Unit == unit && last.Kind == kind && last.Start == to {
			last.Start = from
			return
		}
	}
	w.segs = append(w.segs, Segment{Index: i, Kind: kind, Unit: unit, Start: from, End: to})
}

// evTime is event i's time on the root process's clock.
func (w *pathWalker) evTime(i int32) int64 {
	e := &w.d.events[i]
	if e.proc != manyProcs {
		return e.time + w.poff[e.proc]
	}
	return e.time + (w.as[e.span] - w.t.start[e.span])
}

// causal walks the event DAG from the root's end; it reports whether it reached the root's start.
func (w *pathWalker) causal(root int32) bool {
	d, spans := w.d, w.t.spans
	pos, cur := d.endAt[root], w.ae[root]
	for budget := len(d.events) + 4*len(spans); budget > 0; budget-- {
		if cur <= w.floor || pos == d.startAt[root] {
			return true
		}
		e := &d.events[pos]
		best, bestT, transit, foreign := d.prev(pos), int64(-inf), false, int32(-1)
		if best >= 0 {
			bestT = w.evTime(best)
		}
		if e.cause >= 0 {
			if t := w.evTime(e.cause); t >= bestT {
				best, bestT, transit = e.cause, t, true
			}
		}
		if e.kind == evEnd && w.t.kind[e.span] == model.KindClient {
			for _, s := range w.t.children(e.span) {
				if w.t.kind[s] != model.KindServer || w.replied[s] || w.ae[s] < bestT {
					continue
				}
				if end := d.endAt[s]; end >= 0 {
					best, bestT, transit, foreign = end, w.ae[s], true, -1
				} else {
					best, bestT, transit, foreign = -1, w.ae[s], true, s
				}
			}
		}
		if best < 0 && foreign < 0 {
			// The first event on a unit that names nothing it waited for: a span ended (EndIn) or noted an event
			// on a goroutine forked after it started, whose first event is not a span start and so carries no
			// fork cause on the wire. The span's own start is the latest thing it can have waited for.
			if st := d.startAt[e.span]; st >= 0 && st != pos && w.evTime(st) <= cur {
				best, bestT = st, w.evTime(st)
			} else {
				return false
			}
		}
		td := min(bestT, cur)
		unit := d.unitIDs[e.unit]
		if transit {
			w.emit(e.span, unit, SegmentTransit, td, cur)
		} else {
			w.emit(e.owner, unit, SegmentRun, td, cur)
		}
		cur = td
		if foreign >= 0 {
			// A server span without events: the tree heuristic inside it, then back to the client's unit at the
			// latest event before the server started (its request was sent after that event).
			lo := max(w.as[foreign], w.floor)
			w.heuristic(foreign, cur, lo)
			cur = min(cur, lo)
			k := d.prev(pos)
			for k >= 0 && w.evTime(k) > cur {
				k = d.prev(k)
			}
			if k < 0 {
				return cur <= w.floor
			}
			best = k
			td = min(w.evTime(best), cur)
			w.emit(foreign, 0, SegmentTransit, td, cur)
			cur = td
		}
		pos = best
	}
	return cur <= w.floor
}

// heuristic walks span i's subtree back from cur down to lo (the span's start, clipped to its parent's), taking
// the child that ended last before the current point; children that start at or after the current point (those
// that began after their parent ended: asynchronous consumers, fire-and-forget work) are not on the path, nor are
// those the parent did not wait for by their nature (see tree.async), and a child running past the current point
// counts only up to it.
func (w *pathWalker) heuristic(i int32, cur, lo int64) {
	lo = max(lo, w.as[i])
	cur = min(cur, w.ae[i])
	kids := w.t.children(i)
	if len(kids) > 0 {
		base := len(w.scratch)
		w.scratch = append(w.scratch, kids...)
		sorted := w.scratch[base:]
		slices.SortFunc(sorted, func(a, b int32) int { return cmp.Compare(w.ae[b], w.ae[a]) })
		for j := 0; j < len(sorted) && cur > lo; j++ {
			c := w.scratch[base+j] // re-read: recursion may grow scratch and move it
			if w.t.async(c) {
				continue
			}
			cs := max(w.as[c], lo)
			if cs >= cur {
				continue
			}
			ce := min(w.ae[c], cur)
			if ce <= lo {
				break // this and every later child ended before the span started
			}
			w.emit(i, 0, SegmentRun, ce, cur)
			w.heuristic(c, ce, cs)
			cur = cs
		}
		w.scratch = w.scratch[:base]
	}
	w.emit(i, 0, SegmentRun, lo, cur)
}

// radixSort sorts keys in place, 11 bits at a time (the counts, 16 KB, stay on the stack) from the lowest (an LSD radix sort, stable), using tmp (as
// long as keys) as scratch, which it returns for reuse; the passes stop at the highest digit any key has. For the
// tens of thousands of packed keys of a long path it is several times faster than a comparison sort.
func radixSort(keys, tmp []uint64) []uint64 {
	if len(keys) < 256 {
		slices.Sort(keys)
		return tmp
	}
	var top uint64
	for _, k := range keys {
		top |= k
	}
	src, dst := keys, tmp[:len(keys)]
	var count [1 << 11]int
	for shift := uint(0); shift < 64 && top>>shift != 0; shift += 11 {
		clear(count[:])
		for _, k := range src {
			count[k>>shift&(1<<11-1)]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range src {
			d := k >> shift & (1<<11 - 1)
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return tmp
}
