package analyze

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/weftrace/weft/model"
)

// Choice says which offset to take within the interval causality allows.
type Choice uint8

const (
	// ChooseZero takes the value nearest 0: no adjustment when the raw times are already consistent.
	ChooseZero Choice = iota
	// ChooseMidpoint takes the middle of the interval (nearest 0 when it is unbounded on a side), which centres a
	// server span in its client span as a symmetric network would.
	ChooseMidpoint
)

// String is "zero" or "midpoint".
func (c Choice) String() string {
	if c == ChooseMidpoint {
		return "midpoint"
	}
	return "zero"
}

// Kinds of causal constraint, as Inconsistency.Kind names them.
const (
	ConstraintCause           = "cause"             // an event is not earlier than the event it waited for
	ConstraintParentStart     = "parent-start"      // a child span starts no earlier than its parent
	ConstraintClientServerEnd = "client-server-end" // a server span ends no later than its client span
)

// Process is one service instance of a trace (spans with the same service and resource attributes) and its
// estimated clock offset relative to the root span's process. Adjusted time = raw time + Offset.
type Process struct {
	ID      int
	Service string
	Attrs   []model.Attr
	Root    bool // the root span's process, whose offset is 0 by definition
	Spans   int

	Offset int64 // nanoseconds
	// Lower and Upper bound the offsets every causal constraint allows, when LowerBounded / UpperBounded.
	Lower, Upper               int64
	LowerBounded, UpperBounded bool
	// Constrained says some chain of constraints links this process to the root's; if not, Offset is only
	// chosen to agree with the processes it is linked to, or is 0.
	Constrained bool
}

// Inconsistency is a causal constraint that the chosen offsets cannot satisfy (it contradicts others, or both
// sides are in one process, where no offset helps).
type Inconsistency struct {
	Kind      string      // ConstraintCause, ConstraintParentStart or ConstraintClientServerEnd
	Cause     *model.Span // the span whose event should come first
	Effect    *model.Span // the span whose event should come after
	Violation int64       // nanoseconds by which the effect precedes its cause after adjustment
	Message   string
}

// MaxInconsistencies caps Clock.Inconsistencies; InconsistencyCount has the full number.
const MaxInconsistencies = 100

// Clock is the estimate of every process's clock offset for one trace.
type Clock struct {
	Choose      Choice
	Processes   []Process // Processes[0] is the root's process
	SpanProcess []int     // the process of each span, by index into the spans given
	// Inconsistencies are the first MaxInconsistencies broken constraints in the order of their spans in the spans
	// given (the effect's index, then the cause's); InconsistencyCount is how many there are in all.
	Inconsistencies    []Inconsistency
	InconsistencyCount int
}

// Offset is span i's offset (by index into the spans given).
func (c *Clock) Offset(i int) int64 { return c.Processes[c.SpanProcess[i]].Offset }

// EstimateClock estimates each process's clock offset relative to the root span's process, from the causal
// constraints of the trace: cause edges between events (weft spans), client spans that contain their server
// spans, and children that start no earlier than their parents. A trace of more than 512 processes is not adjusted
// (every offset 0): see maxClockProcesses.
func EstimateClock(spans []*model.Span, choose Choice) *Clock {
	ws := getWorkspace()
	defer ws.release()
	t, d := buildTreeDAG(spans, ws)
	return estimateClock(t, d, choose, ws)
}

// Constraint kinds, indexing constraintKinds.
const (
	kindCause uint8 = iota
	kindParentStart
	kindClientServerEnd
)

var constraintKinds = [...]string{ConstraintCause, ConstraintParentStart, ConstraintClientServerEnd}

type constraint struct {
	w             int64 // the effect's raw time less the cause's: offset(cause) - offset(effect) <= w
	cause, effect int32 // span indexes
	kind          uint8
}

const inf = math.MaxInt64 / 4

// estimateClock is EstimateClock on the tree and DAG built in ws; it fills d.repliedTo.
func estimateClock(t *tree, d *dag, choose Choice, ws *workspace) *Clock {
	spans := t.spans
	c := &Clock{Choose: choose}
	var newID []int32
	c.Processes, c.SpanProcess, newID = processes(t)
	n := len(c.Processes)
	// Each span's process by the numbering of the analysis (SpanProcess is by index in the spans given).
	ws.spanProc = grow(ws.spanProc, len(spans))
	sp := ws.spanProc
	for i, p := range t.proc[:len(spans)] {
		sp[i] = newID[p]
	}

	// Constraints within one process hold or not whatever the offsets: they are checked here. The others, between
	// processes, are kept for the solver and checked once the offsets are chosen.
	cons := slices.Grow(ws.cons[:0], len(spans)) // three per call between processes, a call in about four spans: no growing
	defer func() { ws.cons = cons[:0] }()
	// Broken constraints are gathered, then listed in the order of their spans (see the end).
	bad := ws.bad[:0]
	defer func() { ws.bad = bad[:0] }()
	report := func(k constraint, viol int64) {
		bad = append(bad, broken{k, viol})
	}
	add := func(k constraint) {
		if sp[k.cause] != sp[k.effect] {
			cons = append(cons, k)
		} else if k.w < 0 {
			report(k, -k.w)
		}
	}
	// One pass over the causes: each is a constraint, and a client's event naming an event of its child server span
	// is the reply (see dag.repliedTo), read here while the cause's event is at hand.
	replied := zeroed(d.repliedTo, len(spans))
	for i := range d.events {
		if e := &d.events[i]; e.cause >= 0 {
			ce := &d.events[e.cause]
			k := constraint{e.time - ce.time, ce.span, e.span, kindCause}
			if e.proc != ce.proc || e.proc == manyProcs {
				add(k)
			} else if k.w < 0 { // within one process, known from the events without looking up their spans
				report(k, -k.w)
			}
			if e.kind == evSpan && t.parent[ce.span] == e.span {
				replied[ce.span] = true
			}
		}
	}
	d.repliedTo = replied
	for i := range spans {
		p := t.parent[i]
		if p < 0 {
			continue
		}
		add(constraint{t.start[i] - t.start[p], p, int32(i), kindParentStart})
		if t.kind[p] == model.KindClient && t.kind[i] == model.KindServer && !replied[i] {
			add(constraint{t.start[p] + t.dur[p] - (t.start[i] + t.dur[i]), int32(i), p, kindClientServerEnd})
		}
	}

	if n <= maxClockProcesses {
		solve(c, cons, sp, choose)
	} else {
		c.Processes[0].Constrained = true // the others keep offset 0, unbounded
	}

	for _, k := range cons {
		of, ot := c.Processes[sp[k.cause]].Offset, c.Processes[sp[k.effect]].Offset
		if viol := of - ot - k.w; viol > 0 {
			report(k, viol)
		}
	}
	// Listed by the effect's index in the spans given, then the cause's, the kind and the violation: the same list in
	// any numbering of the spans, the first MaxInconsistencies of them.
	c.InconsistencyCount = len(bad)
	key := func(x broken) [4]int64 {
		return [4]int64{int64(t.origOf(x.k.effect)), int64(t.origOf(x.k.cause)), int64(x.k.kind), x.viol}
	}
	slices.SortFunc(bad, func(a, b broken) int {
		ka, kb := key(a), key(b)
		for j := range ka {
			if ka[j] != kb[j] {
				return cmpInt64(ka[j], kb[j])
			}
		}
		return 0
	})
	for _, x := range bad[:min(len(bad), MaxInconsistencies)] {
		c.Inconsistencies = append(c.Inconsistencies, inconsistency(x.k, spans, x.viol, sp[x.k.cause] != sp[x.k.effect]))
	}
	return c
}

// maxClockProcesses is the most processes whose offsets EstimateClock solves for: the solver keeps a bound for every
// pair of processes and updates all of them for each pair's tightest constraint, about n³ steps at worst (a tenth of
// a second for 512). A trace of more (bad input, or a client that gives every span a resource of its own) is not
// adjusted: every offset is 0, unbounded, and every constraint the raw times break is reported.
const maxClockProcesses = 512

// broken is a constraint the offsets do not satisfy, by viol nanoseconds.
type broken struct {
	k    constraint
	viol int64
}

// solve chooses every process's offset within the bounds the cross-process constraints cons allow; sp is the process
// of each span.
func solve(c *Clock, cons []constraint, sp []int32, choose Choice) {
	n := len(c.Processes)
	// Difference constraints: x[from] - x[to] <= w, i.e. D[to][from] <= w where D[a][b] bounds x[b]-x[a]. The
	// tightest weight of each pair of processes first (the processes are few: D has a cell for every pair).
	type pair struct{ u, v int }
	tight := make([][]int64, n)
	for i := range tight {
		tight[i] = make([]int64, n)
		for j := range tight[i] {
			tight[i][j] = inf
		}
	}
	for _, k := range cons {
		u, v := sp[k.effect], sp[k.cause]
		tight[u][v] = min(tight[u][v], k.w)
	}
	type bound struct {
		pair
		w int64
	}
	var tightest []bound
	for u := range tight {
		for v, w := range tight[u] {
			if w < inf {
				tightest = append(tightest, bound{pair{u, v}, w})
			}
		}
	}
	// Loosest first, so that a constraint contradicting the others is the one left out.
	slices.SortFunc(tightest, func(a, b bound) int {
		if a.w != b.w {
			return cmp.Compare(b.w, a.w)
		}
		if a.u != b.u {
			return a.u - b.u
		}
		return a.v - b.v
	})
	D := make([][]int64, n)
	for i := range D {
		D[i] = make([]int64, n)
		for j := range D[i] {
			if i != j {
				D[i][j] = inf
			}
		}
	}
	for _, b := range tightest {
		w := b.w
		if w+D[b.v][b.u] < 0 { // contradicts what is known: keep the tightest of this pair's bounds that fits
			floor, best := -D[b.v][b.u], int64(inf)
			for _, k := range cons {
				if x := k.w; x >= floor && x < best && int(sp[k.effect]) == b.u && int(sp[k.cause]) == b.v {
					best = x
				}
			}
			w = best
		}
		if w >= D[b.u][b.v] {
			continue
		}
		for i := 0; i < n; i++ {
			if D[i][b.u] >= inf {
				continue
			}
			for j := 0; j < n; j++ {
				if D[b.v][j] >= inf {
					continue
				}
				if x := D[i][b.u] + w + D[b.v][j]; x < D[i][j] {
					D[i][j] = x
				}
			}
		}
	}

	for v := range c.Processes {
		p := &c.Processes[v]
		p.LowerBounded, p.UpperBounded = D[v][0] < inf, D[0][v] < inf
		if p.LowerBounded {
			p.Lower = -D[v][0]
		}
		if p.UpperBounded {
			p.Upper = D[0][v]
		}
		p.Constrained = p.LowerBounded || p.UpperBounded || v == 0
	}
	// Choose one process at a time; each choice narrows the others through D, so all choices agree.
	for v := 1; v < n; v++ {
		lo, hi := int64(-inf), int64(inf)
		for f := 0; f < v; f++ {
			x := c.Processes[f].Offset
			if D[v][f] < inf {
				lo = max(lo, x-D[v][f])
			}
			if D[f][v] < inf {
				hi = min(hi, x+D[f][v])
			}
		}
		if hi < lo { // cannot happen for consistent D; keep the estimate defined anyway
			hi = lo
		}
		x := min(max(0, lo), hi)
		if choose == ChooseMidpoint && lo > -inf && hi < inf {
			x = lo + (hi-lo)/2
		}
		c.Processes[v].Offset = x
	}

}

func inconsistency(k constraint, spans []*model.Span, viol int64, crossProcess bool) Inconsistency {
	cs, es := spans[k.cause], spans[k.effect]
	where := "within one process"
	if crossProcess {
		where = "even at the best offsets"
	}
	var msg string
	switch k.kind {
	case kindCause:
		msg = fmt.Sprintf("an event of %s precedes by %s the event of %s it waited for, %s", label(es), fmtDur(viol), label(cs), where)
	case kindParentStart:
		msg = fmt.Sprintf("%s starts %s before its parent %s, %s", label(es), fmtDur(viol), label(cs), where)
	default:
		msg = fmt.Sprintf("server span %s ends %s after its client span %s, %s", label(cs), fmtDur(viol), label(es), where)
	}
	return Inconsistency{Kind: constraintKinds[k.kind], Cause: cs, Effect: es, Violation: viol, Message: msg}
}

func label(s *model.Span) string { return s.Service() + ":" + s.Name }

func fmtDur(ns int64) string { return fmt.Sprintf("%gµs", float64(ns)/1e3) }

// processes is the trace's processes (as numbered in t.procs while the spans were read), each span's by its index
// in the spans given, and each process's number in the answer by its number in t.procs: the root span's process
// comes first, the others by their first span's start, then by their first span's place in the spans given.
func processes(t *tree) ([]Process, []int, []int32) {
	pt := &t.procs
	of := make([]int, len(t.spans))
	if len(pt.res) == 0 {
		return []Process{{Root: true, Constrained: true}}, of, nil
	}
	root := int32(0)
	if r := t.mainRoot(); r >= 0 {
		root = t.proc[r]
	}
	perm := make([]int32, len(pt.res)) // perm[new] = old
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		if (a == root) != (b == root) {
			if a == root {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(pt.first[a], pt.first[b]); c != 0 {
			return c
		}
		return cmp.Compare(pt.low[a], pt.low[b])
	})
	newID := make([]int32, len(perm))
	sorted := make([]Process, len(perm))
	for n, o := range perm {
		newID[o] = int32(n)
		p := Process{ID: n, Spans: int(pt.spans[o])}
		if r := pt.res[o]; r != nil {
			p.Service, p.Attrs = r.Service, r.Attrs
		}
		sorted[n] = p
	}
	sorted[0].Root = true
	for i, p := range t.proc[:len(t.spans)] {
		of[t.origOf(int32(i))] = int(newID[p])
	}
	return sorted, of, newID
}

// resourceKey identifies a service instance by its service and resource attributes, in any order.
func resourceKey(r *model.Resource) string {
	if r == nil {
		return ""
	}
	parts := make([]string, 0, len(r.Attrs))
	for _, a := range r.Attrs {
		parts = append(parts, a.Key+"="+a.Value.AsString())
	}
	slices.Sort(parts)
	return r.Service + "\x00" + strings.Join(parts, "\x00")
}
