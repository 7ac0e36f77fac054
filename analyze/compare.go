package analyze

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/weftrace/weft/model"
)

// Alpha is the p-value below which a change can be significant.
const Alpha = 0.01

// MinSamples is the fewest spans on each side for a latency change to be tested.
const MinSamples = 5

// Statuses of a path or span in a comparison.
const (
	StatusBoth        = "both"
	StatusAppeared    = "appeared"    // population b only
	StatusDisappeared = "disappeared" // population a only
	StatusAdded       = "added"       // trace b only
	StatusRemoved     = "removed"     // trace a only
)

// PopulationDiff compares two populations of traces over their merged calling-context tree.
type PopulationDiff struct {
	A, B    Population
	Tree    []*DiffNode  // at most DefaultMaxNodes paths, those in the most traces of either side
	Pruned  int          // paths left out of Tree (Changes still lists their changes)
	Changes []ChangeItem // significant changes and appeared/disappeared paths, most significant first
}

// Population sizes one side of a comparison.
type Population struct {
	Traces, Spans int
}

// Side is one population's view of a path.
type Side struct {
	Count, Traces, Errors int
	PerTrace              float64 // calls per trace of the population (traces without the path count 0)
	Latency               Latency
}

// ErrorRate is Errors/Count.
func (s *Side) ErrorRate() float64 { return ratio(s.Errors, s.Count) }

// Change is a tested difference between two populations. Delta is b − a (nanoseconds of median latency, or calls
// per trace); Ratio is b / a. Significant means PValue < Alpha and the relative effect |Ratio − 1| is at least the
// minimum effect asked for.
type Change struct {
	Delta       float64
	Ratio       float64
	PValue      float64
	Significant bool
}

// DiffNode is one path of the merged calling-context tree. A or B is nil when the path is on one side only.
type DiffNode struct {
	Path, Service, Name string
	Depth               int
	Status              string
	A, B                *Side
	Latency             Change // of the spans' durations (Mann–Whitney U)
	Calls               Change // of calls per trace (Mann–Whitney U over every trace, zero when absent)
	Children            []*DiffNode
}

// ChangeItem is one line of the summary of a comparison.
type ChangeItem struct {
	Path        string
	What        string // "latency", "calls", "appeared" or "disappeared"
	Delta       float64
	Ratio       float64
	PValue      float64
	Significant bool
}

// ComparePopulations merges the calling-context trees of two aggregations and tests, per path, the change in
// latency and in calls per trace. minEffect is the smallest relative change reported as significant (0.1 = 10%).
// The aggregations should be made without a cap on nodes (Limits{Nodes: -1}), or a path pruned from one side
// reads as appeared or disappeared.
func ComparePopulations(a, b *Aggregation, minEffect float64) *PopulationDiff {
	d := &PopulationDiff{A: Population{a.Traces, a.Spans}, B: Population{b.Traces, b.Spans}}
	d.Tree = mergeNodes(a.Tree, b.Tree, a.Traces, b.Traces, minEffect, d)
	d.Tree, d.Pruned = pruneDiff(d.Tree, DefaultMaxNodes)
	slices.SortFunc(d.Changes, func(x, y ChangeItem) int {
		if x.Significant != y.Significant {
			if x.Significant {
				return -1
			}
			return 1
		}
		if x.PValue != y.PValue {
			return cmp.Compare(x.PValue, y.PValue)
		}
		return strings.Compare(x.Path, y.Path)
	})
	return d
}

func mergeNodes(as, bs []*Node, na, nb int, minEffect float64, d *PopulationDiff) []*DiffNode {
	type pair struct{ a, b *Node }
	var keys []string
	byKey := map[string]*pair{}
	for _, n := range as {
		k := n.Service + ":" + n.Name
		keys = append(keys, k)
		byKey[k] = &pair{a: n}
	}
	for _, n := range bs {
		k := n.Service + ":" + n.Name
		if p, ok := byKey[k]; ok {
			p.b = n
		} else {
			keys = append(keys, k)
			byKey[k] = &pair{b: n}
		}
	}
	out := make([]*DiffNode, 0, len(keys))
	for _, k := range keys {
		p := byKey[k]
		n := p.a
		if n == nil {
			n = p.b
		}
		dn := &DiffNode{Path: n.Path, Service: n.Service, Name: n.Name, Depth: n.Depth, Status: StatusBoth}
		var aKids, bKids []*Node
		var ad, bd, acalls, bcalls []int64
		if p.a != nil {
			dn.A, aKids, ad, acalls = side(p.a, na), p.a.Children, sortInPlace(p.a.durations), sortInPlace(p.a.perTrace)
		} else {
			dn.Status = StatusAppeared
		}
		if p.b != nil {
			dn.B, bKids, bd, bcalls = side(p.b, nb), p.b.Children, sortInPlace(p.b.durations), sortInPlace(p.b.perTrace)
		} else {
			dn.Status = StatusDisappeared
		}
		// Calls per trace over every trace of each population: the traces without the path count 0.
		_, pc := mannWhitney(acalls, bcalls, max(na-len(acalls), 0), max(nb-len(bcalls), 0))
		pa, pb := 0.0, 0.0
		if dn.A != nil {
			pa = dn.A.PerTrace
		}
		if dn.B != nil {
			pb = dn.B.PerTrace
		}
		dn.Calls = change(pb-pa, pa, pb, pc, minEffect)
		if dn.Status == StatusBoth {
			pl := 1.0
			if len(ad) >= MinSamples && len(bd) >= MinSamples {
				_, pl = MannWhitney(ad, bd)
			}
			m1, m2 := float64(p.a.Latency.P50), float64(p.b.Latency.P50)
			dn.Latency = change(m2-m1, m1, m2, pl, minEffect)
			if dn.Latency.Significant {
				d.Changes = append(d.Changes, ChangeItem{dn.Path, "latency", dn.Latency.Delta, dn.Latency.Ratio, pl, true})
			}
			if dn.Calls.Significant {
				d.Changes = append(d.Changes, ChangeItem{dn.Path, "calls", dn.Calls.Delta, dn.Calls.Ratio, pc, true})
			}
		} else {
			dn.Latency = Change{PValue: 1}
			d.Changes = append(d.Changes, ChangeItem{dn.Path, dn.Status, dn.Calls.Delta, dn.Calls.Ratio, pc, dn.Calls.Significant})
		}
		dn.Children = mergeNodes(aKids, bKids, na, nb, minEffect, d)
		out = append(out, dn)
	}
	return out
}

// pruneDiff keeps the max paths present in the most traces of either side (an ancestor is in at least as many
// traces as its descendants, so what is kept is a tree) and says how many it left out.
func pruneDiff(tree []*DiffNode, max int) ([]*DiffNode, int) {
	var all []*DiffNode
	var collect func([]*DiffNode)
	collect = func(ns []*DiffNode) {
		for _, n := range ns {
			all = append(all, n)
			collect(n.Children)
		}
	}
	collect(tree)
	if len(all) <= max {
		return tree, 0
	}
	traces := func(n *DiffNode) int {
		t := 0
		if n.A != nil {
			t = n.A.Traces
		}
		if n.B != nil && n.B.Traces > t {
			t = n.B.Traces
		}
		return t
	}
	order := make([]int, len(all)) // all is in pre-order: a parent comes before its children
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		return cmp.Or(cmp.Compare(traces(all[y]), traces(all[x])), cmp.Compare(all[x].Depth, all[y].Depth), cmp.Compare(x, y))
	})
	keep := make(map[*DiffNode]bool, max)
	for _, i := range order[:max] {
		keep[all[i]] = true
	}
	var filter func([]*DiffNode) []*DiffNode
	filter = func(ns []*DiffNode) []*DiffNode {
		out := ns[:0]
		for _, n := range ns {
			if keep[n] {
				n.Children = filter(n.Children)
				out = append(out, n)
			}
		}
		return out
	}
	return filter(tree), len(all) - max
}

func side(n *Node, traces int) *Side {
	return &Side{Count: n.Count, Traces: n.Traces, Errors: n.Errors, PerTrace: float64(n.Count) / float64(max(traces, 1)), Latency: n.Latency}
}

// sortInPlace sorts an aggregation's durations or counts, which it keeps in no particular order.
func sortInPlace(vs []int64) []int64 {
	if !slices.IsSorted(vs) {
		slices.Sort(vs)
	}
	return vs
}

func change(delta, a, b, p, minEffect float64) Change {
	c := Change{Delta: delta, PValue: p}
	switch {
	case a > 0:
		c.Ratio = b / a
	case b > 0:
		c.Ratio = math.Inf(1)
	default:
		c.Ratio = 1
	}
	c.Significant = p < Alpha && math.Abs(c.Ratio-1) >= minEffect
	return c
}

// TraceDiff compares two single traces span by span.
type TraceDiff struct {
	A, B           TraceInfo
	Added, Removed int
	Nodes          []SpanMatch // pre-order
}

// TraceInfo sizes one trace of a comparison.
type TraceInfo struct {
	TraceID  model.TraceID
	Spans    int
	Duration int64 // of the main root span
}

// SpanMatch is one span of either trace, matched by path and by order among same-path siblings.
type SpanMatch struct {
	Path, Service, Name string
	Index               int // order among siblings with the same service:name, by start
	Depth               int
	Status              string    // StatusBoth, StatusAdded or StatusRemoved
	A, B                *SpanSide // nil on the side the span is absent from
	Delta               int64     // B's duration − A's, when both are present
}

// SpanSide is one trace's span at a matched position.
type SpanSide struct {
	Span     *model.Span
	Duration int64
	Self     int64
}

// CompareTraces matches the spans of two traces by their path of service:name from the root and their order among
// same-path siblings, and reports spans added and removed and the duration of every matched pair.
func CompareTraces(a, b []*model.Span) *TraceDiff {
	ta, tb := buildTree(a), buildTree(b)
	d := &TraceDiff{A: traceInfo(ta), B: traceInfo(tb)}
	m := &matcher{d: d, ta: ta, tb: tb, selfA: selfTimes(ta), selfB: selfTimes(tb)}
	m.match(ta.roots, tb.roots, "", 0)
	return d
}

func traceInfo(t *tree) TraceInfo {
	info := TraceInfo{Spans: len(t.spans)}
	if r := t.mainRoot(); r >= 0 {
		info.TraceID, info.Duration = t.spans[r].TraceID, t.spans[r].Duration
	}
	return info
}

func selfTimes(t *tree) []int64 {
	as, ae := make([]int64, len(t.spans)), make([]int64, len(t.spans))
	for i, s := range t.spans {
		as[i], ae[i] = s.Start, s.End()
	}
	t.alignServers(as, ae)
	out := make([]int64, len(t.spans))
	for i := range out {
		out[i] = t.selfTime(int32(i), as, ae)
	}
	return out
}

type matcher struct {
	d            *TraceDiff
	ta, tb       *tree
	selfA, selfB []int64
}

// match pairs two sibling lists (each sorted by start) by service:name and order.
func (m *matcher) match(as, bs []int32, prefix string, depth int) {
	type slot struct{ a, b []int32 }
	var keys []string
	groups := map[string]*slot{}
	put := func(k string) *slot {
		g := groups[k]
		if g == nil {
			g = &slot{}
			groups[k] = g
			keys = append(keys, k)
		}
		return g
	}
	for _, i := range as {
		g := put(label(m.ta.spans[i]))
		g.a = append(g.a, i)
	}
	for _, i := range bs {
		g := put(label(m.tb.spans[i]))
		g.b = append(g.b, i)
	}
	for _, k := range keys {
		g := groups[k]
		path := k
		if prefix != "" {
			path = prefix + "/" + k
		}
		for j := 0; j < max(len(g.a), len(g.b)); j++ {
			sm := SpanMatch{Path: path, Index: j, Depth: depth, Status: StatusBoth}
			var ka, kb []int32
			if j < len(g.a) {
				i := g.a[j]
				s := m.ta.spans[i]
				sm.Service, sm.Name = s.Service(), s.Name
				sm.A = &SpanSide{Span: s, Duration: s.Duration, Self: m.selfA[i]}
				ka = m.ta.children(i)
			}
			if j < len(g.b) {
				i := g.b[j]
				s := m.tb.spans[i]
				sm.Service, sm.Name = s.Service(), s.Name
				sm.B = &SpanSide{Span: s, Duration: s.Duration, Self: m.selfB[i]}
				kb = m.tb.children(i)
			}
			switch {
			case sm.A == nil:
				sm.Status = StatusAdded
				m.d.Added++
			case sm.B == nil:
				sm.Status = StatusRemoved
				m.d.Removed++
			default:
				sm.Delta = sm.B.Duration - sm.A.Duration
			}
			m.d.Nodes = append(m.d.Nodes, sm)
			m.match(ka, kb, path, depth+1)
		}
	}
}
