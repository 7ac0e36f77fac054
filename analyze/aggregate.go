package analyze

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/weftrace/weft/model"
)

// Aggregation is many traces seen together: their calling-context tree, request-flow graph and structure groups.
type Aggregation struct {
	Traces int
	Spans  int
	// PrunedNodes and PrunedGroups count what the Limits left out.
	PrunedNodes, PrunedGroups int
	Tree                      []*Node // one root per distinct root service:operation, most frequent first
	Graph                     FlowGraph
	Groups                    []*Group // most frequent first
}

// Latency summarises a set of durations (nanoseconds).
type Latency struct {
	P50, P90, P99, Mean int64
}

// Node is one path of the calling-context tree: a sequence of service:operation from a root span.
type Node struct {
	Path      string // "svc:op/svc:op/..."
	Service   string
	Name      string
	Depth     int
	Count     int // spans at this path
	Traces    int // traces with at least one span at this path
	Errors    int
	Latency   Latency
	Self      int64           // mean self time of the spans (duration less their children's union)
	Exemplars []model.TraceID // traces at p50, p90, p99 and the maximum
	Children  []*Node         // most frequent first

	durations []int64 // for comparisons, in no particular order
	perTrace  []int64 // calls per trace, for the traces that have the path, in no particular order
}

// ErrorRate is Errors/Count.
func (n *Node) ErrorRate() float64 { return ratio(n.Errors, n.Count) }

// FlowGraph is the request-flow graph: service:operation nodes and the calls between them.
type FlowGraph struct {
	Nodes []*FlowNode // most frequent first
	Edges []*FlowEdge // most frequent first
}

// Overlap counts, for spans that had siblings (or, on a node, for spans with at least two children), those that
// overlapped in time and those that did not.
type Overlap struct {
	Concurrent int
	Sequential int
}

// Mode is "concurrent" or "sequential" when at least 90% of the cases are, "mixed" otherwise, and "single" when
// there were no cases.
func (o Overlap) Mode() string {
	total := o.Concurrent + o.Sequential
	switch {
	case total == 0:
		return "single"
	case o.Concurrent*10 >= total*9:
		return "concurrent"
	case o.Sequential*10 >= total*9:
		return "sequential"
	}
	return "mixed"
}

// FlowNode is one service:operation with its spans' latency; Overlap is over its spans with two or more children:
// concurrent when some of the children overlapped.
type FlowNode struct {
	ID        string // "service:name"
	Service   string
	Name      string
	Count     int
	Errors    int
	Latency   Latency
	Overlap   Overlap
	Exemplars []model.TraceID // traces at p50, p90, p99 and the maximum
}

// FlowEdge is a caller calling a callee: latency is the callee spans' durations; Overlap says whether each callee
// span overlapped a sibling.
type FlowEdge struct {
	From, To  string
	Count     int
	Errors    int
	Latency   Latency
	Overlap   Overlap
	Exemplars []model.TraceID // traces at p50, p90, p99 and the maximum
}

// Group is the traces that share one shape: the same tree of service:operation, children in canonical order.
type Group struct {
	ID        string // 16 hex digits, stable for a shape
	Shape     string // "svc:op(svc:op×3,svc:op(...))", cut to MaxShape bytes
	Spans     int    // spans per trace
	Count     int
	Errors    int // traces with an error span
	Latency   Latency
	Exemplars []model.TraceID
}

// MaxShape caps Group.Shape.
const MaxShape = 4000

type labelKey struct{ service, name string }

// rec is one span as the aggregation saw it. Every span's durations go to three distributions (its path, its
// operation, its call edge); recording them once in an array sized in advance, then laying them out by counting,
// costs far less than growing three slices per distribution.
type rec struct {
	dur   int64
	node  int32 // calling-context tree node
	label int32 // service:operation, the flow graph's node
	edge  int32 // flow graph edge, -1 for a root span
	trace int32
}

type cctAcc struct {
	parent, label int32
	count, traces int32 // spans; traces with at least one of them
	self          int64
	errors        int
	lastTrace     int32
}

type flowAcc struct {
	count   int32
	errors  int
	overlap Overlap
}

type groupAcc struct {
	first     int32
	spans     int
	errors    int
	samples   []sample
	signature uint64
}

type aggregator struct {
	limits   Limits
	traces   [][]*model.Span
	labels   map[labelKey]int32
	labelOf  []labelKey
	labelSig []uint64
	cct      []cctAcc  // cct[0] is a virtual root above the root spans
	cctKids  idTable   // (parent node, label) → node
	nodes    []flowAcc // per label
	edgeOf   idTable   // (parent label, label) → edge
	edges    []flowAcc
	edgeKeys [][2]int32
	groups   map[uint64]*groupAcc
	spans    int
	recs     []rec

	// scratch reused between traces
	tree        tree
	nodeOf, lab []int32
	as, ae      []int64
	sig         []uint64
	sigs        []uint64
	overlap     []bool
}

// Limits caps what an aggregation keeps. Zero fields take the defaults; negative ones mean no cap.
type Limits struct {
	// Nodes caps the calling-context tree: the paths present in the most traces are kept (a path is in at least
	// as many traces as any path below it, so what is kept is a tree). Default DefaultMaxNodes.
	Nodes int
	// Groups caps the structure groups: the largest are kept. Default DefaultMaxGroups.
	Groups int
}

// Default caps of an aggregation: beyond them a tree or a list is too large to read, and to send.
const (
	DefaultMaxNodes  = 2000
	DefaultMaxGroups = 200
)

func (l Limits) nodes() int  { return limit(l.Nodes, DefaultMaxNodes) }
func (l Limits) groups() int { return limit(l.Groups, DefaultMaxGroups) }

func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt
	}
	return v
}

// Aggregate builds the calling-context tree, the request-flow graph and the structure groups of traces (each
// the spans of one trace), within the limits l.
func Aggregate(traces [][]*model.Span, l Limits) *Aggregation {
	a := &aggregator{
		limits: l,
		traces: traces,
		labels: map[labelKey]int32{},
		cct:    []cctAcc{{parent: -1, label: -1}},
		groups: map[uint64]*groupAcc{},
	}
	n := 0
	for _, spans := range traces {
		n += len(spans)
	}
	a.recs = make([]rec, 0, n)
	for ti, spans := range traces {
		a.add(int32(ti), spans)
	}
	return a.finish()
}

func (a *aggregator) label(s *model.Span) int32 {
	k := labelKey{s.Service(), s.Name}
	l, ok := a.labels[k]
	if !ok {
		l = int32(len(a.labelOf))
		a.labels[k] = l
		a.labelOf = append(a.labelOf, k)
		h := fnv.New64a()
		h.Write([]byte(k.service + "\x00" + k.name))
		a.labelSig = append(a.labelSig, h.Sum64())
		a.nodes = append(a.nodes, flowAcc{})
	}
	return l
}

// pairKey packs two non-negative indexes into a non-zero idTable key.
func pairKey(a, b int32) uint64 { return 1<<63 | uint64(uint32(a))<<32 | uint64(uint32(b)) }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func (a *aggregator) add(ti int32, spans []*model.Span) {
	if len(spans) == 0 {
		return
	}
	a.spans += len(spans)
	t := a.tree.build(spans)
	n := len(spans)
	a.nodeOf, a.lab = grow(a.nodeOf, n), grow(a.lab, n)
	a.as, a.ae = grow(a.as, n), grow(a.ae, n)
	a.sig, a.overlap = grow(a.sig, n), grow(a.overlap, n)
	for i, s := range spans {
		a.as[i], a.ae[i] = s.Start, s.End()
		a.lab[i] = a.label(s)
		a.overlap[i] = false
	}
	t.alignServers(a.as, a.ae)
	traceErr := false
	for _, i := range t.order {
		s := spans[i]
		pn := int32(0)
		if p := t.parent[i]; p >= 0 {
			pn = a.nodeOf[p]
		}
		key := pairKey(pn, a.lab[i])
		node, ok := a.cctKids.get(key)
		if !ok {
			node = int32(len(a.cct))
			a.cctKids.put(key, node)
			a.cct = append(a.cct, cctAcc{parent: pn, label: a.lab[i], lastTrace: -1})
		}
		a.nodeOf[i] = node
		c := &a.cct[node]
		c.count++
		c.self += t.selfTime(i, a.as, a.ae)
		if c.lastTrace != ti {
			c.lastTrace = ti
			c.traces++
		}
		fn := &a.nodes[a.lab[i]]
		fn.count++
		if s.IsError() {
			c.errors++
			fn.errors++
			traceErr = true
		}
		// Siblings that overlap: children are sorted by start, so a child overlaps a sibling when it starts
		// before the latest end so far, or the next child starts before it ends.
		kids := t.children(i)
		if len(kids) >= 2 {
			if !slices.IsSortedFunc(kids, func(x, y int32) int { return cmpInt64(a.as[x], a.as[y]) }) {
				// servers moved inside their clients may start in another order than recorded
				kids = slices.Clone(kids)
				slices.SortStableFunc(kids, func(x, y int32) int { return cmpInt64(a.as[x], a.as[y]) })
			}
			latest, some := int64(-inf), false
			for j, k := range kids {
				o := a.as[k] < latest || (j+1 < len(kids) && a.as[kids[j+1]] < a.ae[k])
				a.overlap[k] = o
				some = some || o
				latest = max(latest, a.ae[k])
			}
			if some {
				fn.overlap.Concurrent++
			} else {
				fn.overlap.Sequential++
			}
		}
		edge := int32(-1)
		if p := t.parent[i]; p >= 0 {
			var ok bool
			if edge, ok = a.edgeOf.get(pairKey(a.lab[p], a.lab[i])); !ok {
				edge = int32(len(a.edges))
				a.edgeOf.put(pairKey(a.lab[p], a.lab[i]), edge)
				a.edges = append(a.edges, flowAcc{})
				a.edgeKeys = append(a.edgeKeys, [2]int32{a.lab[p], a.lab[i]})
			}
			e := &a.edges[edge]
			e.count++
			if s.IsError() {
				e.errors++
			}
			if len(t.children(p)) >= 2 {
				if a.overlap[i] {
					e.overlap.Concurrent++
				} else {
					e.overlap.Sequential++
				}
			}
		}
		a.recs = append(a.recs, rec{dur: s.Duration, node: node, label: a.lab[i], edge: edge, trace: ti})
	}
	// Shapes bottom-up: a span's signature mixes its label with its children's signatures in sorted order.
	for j := len(t.order) - 1; j >= 0; j-- {
		i := t.order[j]
		a.sig[i] = a.mix(a.labelSig[a.lab[i]], t.children(i))
	}
	sig := a.mix(0, t.roots)
	g := a.groups[sig]
	if g == nil {
		g = &groupAcc{first: ti, spans: n, signature: sig}
		a.groups[sig] = g
	}
	root := spans[t.mainRoot()]
	g.samples = append(g.samples, sample{root.Duration, ti})
	if traceErr {
		g.errors++
	}
}

func (a *aggregator) mix(h uint64, kids []int32) uint64 {
	a.sigs = a.sigs[:0]
	for _, k := range kids {
		a.sigs = append(a.sigs, a.sig[k])
	}
	slices.Sort(a.sigs)
	h = splitmix(h)
	for _, s := range a.sigs {
		h = splitmix(h ^ s)
	}
	return h
}

// splitmix is SplitMix64's finaliser: a fixed, well-mixing hash step, so that group IDs are stable across runs.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (a *aggregator) traceID(i int32) model.TraceID { return a.traces[i][0].TraceID }

func (a *aggregator) exemplars(ts []int32) []model.TraceID {
	out := make([]model.TraceID, len(ts))
	for i, t := range ts {
		out[i] = a.traceID(t)
	}
	return out
}

// layout lays the recorded spans out by counting: the samples and calls per trace of each kept calling-context
// node, and the durations of each flow node and edge, each a window of one array.
func (a *aggregator) layout(keep []bool) (samples [][]sample, perTrace [][]int64, labelDurs, edgeDurs [][]sample) {
	samples, perTrace = make([][]sample, len(a.cct)), make([][]int64, len(a.cct))
	nSamples, nTraces := 0, 0
	for i := range a.cct {
		if keep[i] {
			nSamples += int(a.cct[i].count)
			nTraces += int(a.cct[i].traces)
		}
	}
	sampleArr, traceArr := make([]sample, nSamples), make([]int64, nTraces)
	for i := range a.cct {
		if keep[i] {
			c := &a.cct[i]
			samples[i], sampleArr = sampleArr[:0:c.count], sampleArr[c.count:]
			perTrace[i], traceArr = traceArr[:0:c.traces], traceArr[c.traces:]
			c.lastTrace = -1
		}
	}
	window := func(counts func(int) int32, n int) [][]sample {
		out := make([][]sample, n)
		arr := make([]sample, len(a.recs))
		for i := range out {
			c := counts(i)
			out[i], arr = arr[:0:c], arr[c:]
		}
		return out
	}
	labelDurs = window(func(i int) int32 { return a.nodes[i].count }, len(a.nodes))
	edgeDurs = window(func(i int) int32 { return a.edges[i].count }, len(a.edges))
	for _, r := range a.recs {
		if keep[r.node] {
			c := &a.cct[r.node]
			samples[r.node] = append(samples[r.node], sample{r.dur, r.trace})
			if c.lastTrace != r.trace {
				c.lastTrace = r.trace
				perTrace[r.node] = append(perTrace[r.node], 0)
			}
			perTrace[r.node][len(perTrace[r.node])-1]++
		}
		labelDurs[r.label] = append(labelDurs[r.label], sample{r.dur, r.trace})
		if r.edge >= 0 {
			edgeDurs[r.edge] = append(edgeDurs[r.edge], sample{r.dur, r.trace})
		}
	}
	return samples, perTrace, labelDurs, edgeDurs
}

func (a *aggregator) finish() *Aggregation {
	agg := &Aggregation{Traces: len(a.traces), Spans: a.spans}
	nodes := make([]*Node, len(a.cct))
	keep := make([]bool, len(a.cct))
	if n := len(a.cct) - 1; n > a.limits.nodes() {
		depth := make([]int, len(a.cct))
		rank := make([]int32, 0, n)
		for i := 1; i < len(a.cct); i++ {
			depth[i] = depth[a.cct[i].parent] + 1
			rank = append(rank, int32(i))
		}
		// Most traces first, then shallower paths, then older nodes: every kept node's parent is kept.
		slices.SortFunc(rank, func(x, y int32) int {
			return cmp.Or(cmp.Compare(a.cct[y].traces, a.cct[x].traces), cmp.Compare(depth[x], depth[y]), cmp.Compare(x, y))
		})
		for _, i := range rank[:a.limits.nodes()] {
			keep[i] = true
		}
		agg.PrunedNodes = n - a.limits.nodes()
	} else {
		for i := range keep {
			keep[i] = true
		}
	}
	samples, perTrace, labelDurs, edgeDurs := a.layout(keep)
	for i := 1; i < len(a.cct); i++ {
		if !keep[i] {
			continue
		}
		c := &a.cct[i]
		d := summarise(samples[i], true)
		l := a.labelOf[c.label]
		n := &Node{Service: l.service, Name: l.name, Count: d.count, Traces: len(perTrace[i]), Errors: c.errors,
			Latency: Latency{d.p50, d.p90, d.p99, d.avg}, Exemplars: a.exemplars(d.exemplars), durations: d.durations,
			perTrace: perTrace[i]}
		if n.Count > 0 {
			n.Self = c.self / int64(n.Count)
		}
		nodes[i] = n
	}
	// Parents were created before their children, so one pass in order sets paths and depths.
	for i := 1; i < len(a.cct); i++ {
		n, p := nodes[i], a.cct[i].parent
		if n == nil {
			continue
		}
		own := n.Service + ":" + n.Name
		if p == 0 {
			n.Path = own
			agg.Tree = append(agg.Tree, n)
		} else {
			n.Path, n.Depth = nodes[p].Path+"/"+own, nodes[p].Depth+1
			nodes[p].Children = append(nodes[p].Children, n)
		}
	}
	byCount := func(x, y *Node) int {
		if x.Count != y.Count {
			return cmp.Compare(y.Count, x.Count)
		}
		return strings.Compare(x.Path, y.Path)
	}
	slices.SortFunc(agg.Tree, byCount)
	for _, n := range nodes[1:] {
		if n != nil {
			slices.SortFunc(n.Children, byCount)
		}
	}

	for l, f := range a.nodes {
		k, d := a.labelOf[l], summarise(labelDurs[l], false)
		agg.Graph.Nodes = append(agg.Graph.Nodes, &FlowNode{ID: k.service + ":" + k.name, Service: k.service, Name: k.name,
			Count: d.count, Errors: f.errors, Latency: Latency{d.p50, d.p90, d.p99, d.avg}, Overlap: f.overlap,
			Exemplars: a.exemplars(d.exemplars)})
	}
	for i, e := range a.edges {
		key, d := a.edgeKeys[i], summarise(edgeDurs[i], false)
		from, to := a.labelOf[key[0]], a.labelOf[key[1]]
		agg.Graph.Edges = append(agg.Graph.Edges, &FlowEdge{From: from.service + ":" + from.name, To: to.service + ":" + to.name,
			Count: d.count, Errors: e.errors, Latency: Latency{d.p50, d.p90, d.p99, d.avg}, Overlap: e.overlap,
			Exemplars: a.exemplars(d.exemplars)})
	}
	slices.SortFunc(agg.Graph.Nodes, func(x, y *FlowNode) int {
		if x.Count != y.Count {
			return cmp.Compare(y.Count, x.Count)
		}
		return strings.Compare(x.ID, y.ID)
	})
	slices.SortFunc(agg.Graph.Edges, func(x, y *FlowEdge) int {
		if x.Count != y.Count {
			return cmp.Compare(y.Count, x.Count)
		}
		if x.From != y.From {
			return strings.Compare(x.From, y.From)
		}
		return strings.Compare(x.To, y.To)
	})

	groups := make([]*groupAcc, 0, len(a.groups))
	for _, g := range a.groups {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(x, y *groupAcc) int {
		return cmp.Or(cmp.Compare(len(y.samples), len(x.samples)), cmp.Compare(x.first, y.first))
	})
	if len(groups) > a.limits.groups() {
		agg.PrunedGroups = len(groups) - a.limits.groups()
		groups = groups[:a.limits.groups()]
	}
	for _, g := range groups {
		d := summarise(g.samples, false)
		agg.Groups = append(agg.Groups, &Group{ID: fmt.Sprintf("%016x", g.signature), Shape: Shape(a.traces[g.first]),
			Spans: g.spans, Count: d.count, Errors: g.errors, Latency: Latency{d.p50, d.p90, d.p99, d.avg},
			Exemplars: a.exemplars(d.exemplars)})
	}
	return agg
}

// Shape is the canonical text of a trace's structure: each span as service:name, its children's shapes in
// sorted order in parentheses, repeats written ×n. It is cut to MaxShape bytes.
func Shape(spans []*model.Span) string {
	if len(spans) == 0 {
		return ""
	}
	t := buildTree(spans)
	text := make([]string, len(spans))
	for j := len(t.order) - 1; j >= 0; j-- {
		i := t.order[j]
		s := spans[i]
		text[i] = s.Service() + ":" + s.Name
		if kids := t.children(i); len(kids) > 0 {
			text[i] += "(" + joinShapes(text, kids) + ")"
		}
		text[i] = cut(text[i])
	}
	return cut(joinShapes(text, t.roots))
}

// cut shortens s to at most MaxShape bytes without splitting a character.
func cut(s string) string {
	if len(s) <= MaxShape {
		return s
	}
	return strings.ToValidUTF8(s[:MaxShape], "")
}

func joinShapes(text []string, idx []int32) string {
	parts := make([]string, len(idx))
	for j, i := range idx {
		parts[j] = text[i]
	}
	slices.Sort(parts)
	var b strings.Builder
	for j := 0; j < len(parts); {
		k := j
		for k < len(parts) && parts[k] == parts[j] {
			k++
		}
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(parts[j])
		if k-j > 1 {
			b.WriteString("×" + strconv.Itoa(k-j))
		}
		j = k
		if b.Len() > MaxShape {
			break
		}
	}
	return b.String()
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
