package analyze

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"

	"github.com/weftrace/weft/model"
)

// ServiceGraph is the service dependency graph over a time window, with rates per second of the window.
type ServiceGraph struct {
	Start, End int64
	Nodes      []*ServiceNode // by name
	Edges      []*ServiceEdge // by parent, then child
}

// ServiceNode is one service's spans in the window.
type ServiceNode struct {
	Service string
	Spans   int
	Errors  int
	Rate    float64 // spans per second
}

// ServiceEdge is one service calling another: a parent span and a child span of different services. Latency is
// the caller's client span's duration when the parent is a client span, else the callee span's.
type ServiceEdge struct {
	Parent, Child string
	Count, Errors int
	Rate          float64 // calls per second
	Latency       Latency
	Exemplars     []model.TraceID // traces at p50, p90, p99 and the maximum
}

// inWindow reports whether a span started within [start, end]; zero bounds are open.
func inWindow(s *model.Span, start, end int64) bool {
	return (start == 0 || s.Start >= start) && (end == 0 || s.Start <= end)
}

func perSecond(n int, start, end int64) float64 {
	if end <= start || start == 0 {
		return 0
	}
	return float64(n) / (float64(end-start) / 1e9)
}

// Services builds the service dependency graph of traces from the spans that started within [start, end].
func Services(traces [][]*model.Span, start, end int64) *ServiceGraph {
	g := &ServiceGraph{Start: start, End: end}
	nodes := map[string]*ServiceNode{}
	type acc struct {
		e       *ServiceEdge
		samples []sample
	}
	edges := map[[2]string]*acc{}
	var t tree
	for ti, spans := range traces {
		t.parents(spans, nil, memoryOrder(spans, &t.morder, &t.mstart))
		for i, s := range spans {
			if !inWindow(s, start, end) {
				continue
			}
			n := nodes[s.Service()]
			if n == nil {
				n = &ServiceNode{Service: s.Service()}
				nodes[n.Service] = n
			}
			n.Spans++
			if s.IsError() {
				n.Errors++
			}
			p := t.parent[i]
			if p < 0 || spans[p].Service() == s.Service() {
				continue
			}
			ps := spans[p]
			key := [2]string{ps.Service(), s.Service()}
			a := edges[key]
			if a == nil {
				a = &acc{e: &ServiceEdge{Parent: key[0], Child: key[1]}}
				edges[key] = a
			}
			a.e.Count++
			if s.IsError() {
				a.e.Errors++
			}
			d := s.Duration
			if ps.Kind == model.KindClient {
				d = ps.Duration
			}
			a.samples = append(a.samples, sample{d, int32(ti)})
		}
	}
	for _, n := range nodes {
		n.Rate = perSecond(n.Spans, start, end)
		g.Nodes = append(g.Nodes, n)
	}
	for _, a := range edges {
		d := summarise(a.samples, false)
		a.e.Latency = Latency{d.p50, d.p90, d.p99, d.avg}
		for _, ti := range d.exemplars {
			a.e.Exemplars = append(a.e.Exemplars, traces[ti][0].TraceID)
		}
		a.e.Rate = perSecond(a.e.Count, start, end)
		g.Edges = append(g.Edges, a.e)
	}
	slices.SortFunc(g.Nodes, func(a, b *ServiceNode) int { return strings.Compare(a.Service, b.Service) })
	slices.SortFunc(g.Edges, func(a, b *ServiceEdge) int {
		return cmp.Or(strings.Compare(a.Parent, b.Parent), strings.Compare(a.Child, b.Child))
	})
	return g
}

// OperationStats is the RED metrics of one operation (a service's span name) over a window.
type OperationStats struct {
	Service, Name string
	Count, Errors int
	Rate          float64 // spans per second
	Latency       Latency
	Histogram     []Bucket // from the fastest span's bucket to the slowest's, empty buckets included
}

// ErrorRate is Errors/Count.
func (o *OperationStats) ErrorRate() float64 { return ratio(o.Errors, o.Count) }

// Bucket is one bucket of a latency histogram: durations in [Lower, Upper) nanoseconds.
type Bucket struct {
	Lower, Upper int64
	Count        int
	Exemplars    []model.TraceID // up to MaxBucketExemplars traces
}

// MaxBucketExemplars caps Bucket.Exemplars.
const MaxBucketExemplars = 3

// bucketOf is the log-spaced bucket of a duration: 0 below 1µs, then k for [2^(k-1), 2^k) µs.
func bucketOf(d int64) int {
	if d < 1000 {
		return 0
	}
	return bits.Len64(uint64(d / 1000))
}

func bucketBounds(k int) (lower, upper int64) {
	if k == 0 {
		return 0, 1000
	}
	return (int64(1) << (k - 1)) * 1000, (int64(1) << k) * 1000
}

// Operations computes per-operation statistics for the spans of service (and of operation, unless it is "")
// that started within [start, end].
func Operations(traces [][]*model.Span, service, operation string, start, end int64) []*OperationStats {
	type acc struct {
		o         *OperationStats
		durations []int64
		buckets   map[int]*Bucket
	}
	ops := map[string]*acc{}
	for _, spans := range traces {
		for _, s := range spans {
			if s.Service() != service || (operation != "" && s.Name != operation) || !inWindow(s, start, end) {
				continue
			}
			a := ops[s.Name]
			if a == nil {
				a = &acc{o: &OperationStats{Service: service, Name: s.Name}, buckets: map[int]*Bucket{}}
				ops[s.Name] = a
			}
			a.o.Count++
			if s.IsError() {
				a.o.Errors++
			}
			a.durations = append(a.durations, s.Duration)
			k := bucketOf(s.Duration)
			b := a.buckets[k]
			if b == nil {
				lo, hi := bucketBounds(k)
				b = &Bucket{Lower: lo, Upper: hi}
				a.buckets[k] = b
			}
			b.Count++
			if len(b.Exemplars) < MaxBucketExemplars && !slices.Contains(b.Exemplars, s.TraceID) {
				b.Exemplars = append(b.Exemplars, s.TraceID)
			}
		}
	}
	out := make([]*OperationStats, 0, len(ops))
	for _, a := range ops {
		p50, p90, p99 := quantiles(a.durations)
		a.o.Latency = Latency{p50, p90, p99, mean(a.durations)}
		a.o.Rate = perSecond(a.o.Count, start, end)
		lo, hi := bucketOf(slices.Min(a.durations)), bucketOf(slices.Max(a.durations))
		for k := lo; k <= hi; k++ {
			b := a.buckets[k]
			if b == nil {
				l, u := bucketBounds(k)
				b = &Bucket{Lower: l, Upper: u}
			}
			a.o.Histogram = append(a.o.Histogram, *b)
		}
		out = append(out, a.o)
	}
	slices.SortFunc(out, func(a, b *OperationStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}
