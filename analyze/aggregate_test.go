package analyze

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weftrace/weft/model"
)

// population builds three hand-made traces whose aggregates are known:
//
//	T1 front:GET /x [0,100]  → back:db [10,40], back:db [50,90]   (sequential)
//	T2 front:GET /x [0,200]  → back:db [10,110] (error), back:db [20,190]  (concurrent)
//	T3 front:GET /x [0,50]   → cache:get [5,15]
func population() [][]*model.Span {
	b1, b2, b3 := newBuilder(11), newBuilder(12), newBuilder(13)
	r := b1.span(nil, "front", "GET /x", model.KindServer, 0, 100)
	b1.span(r, "back", "db", model.KindClient, 10, 40)
	b1.span(r, "back", "db", model.KindClient, 50, 90)
	r = b2.span(nil, "front", "GET /x", model.KindServer, 0, 200)
	b2.span(r, "back", "db", model.KindClient, 10, 110).StatusCode = model.StatusError
	b2.span(r, "back", "db", model.KindClient, 20, 190)
	r = b3.span(nil, "front", "GET /x", model.KindServer, 0, 50)
	b3.span(r, "cache", "get", model.KindClient, 5, 15)
	return [][]*model.Span{b1.spans, b2.spans, b3.spans}
}

func TestAggregateKnown(t *testing.T) {
	traces := population()
	id := func(i int) model.TraceID { return traces[i][0].TraceID }
	a := Aggregate(traces, Limits{})
	if a.Traces != 3 || a.Spans != 8 || len(a.Tree) != 1 {
		t.Fatalf("traces %d spans %d roots %d", a.Traces, a.Spans, len(a.Tree))
	}
	root := a.Tree[0]
	want := Node{Path: "front:GET /x", Service: "front", Name: "GET /x", Count: 3, Traces: 3,
		Latency: Latency{P50: 100 * us, P90: 200 * us, P99: 200 * us, Mean: 116666}, Self: 30 * us}
	if root.Path != want.Path || root.Count != want.Count || root.Traces != want.Traces || root.Latency != want.Latency || root.Self != want.Self || root.Errors != 0 {
		t.Errorf("root node %+v", *root)
	}
	if !slices.Equal(root.Exemplars, []model.TraceID{id(0), id(1)}) {
		t.Errorf("root exemplars %v", root.Exemplars)
	}
	if len(root.Children) != 2 {
		t.Fatalf("children %d", len(root.Children))
	}
	db, cache := root.Children[0], root.Children[1]
	if db.Path != "front:GET /x/back:db" || db.Depth != 1 || db.Count != 4 || db.Traces != 2 || db.Errors != 1 ||
		db.Latency.P50 != 40*us || db.Latency.P90 != 170*us || db.ErrorRate() != 0.25 {
		t.Errorf("db node %+v", *db)
	}
	if cache.Path != "front:GET /x/cache:get" || cache.Count != 1 || cache.Latency.P50 != 10*us {
		t.Errorf("cache node %+v", *cache)
	}

	g := a.Graph
	if len(g.Nodes) != 3 || len(g.Edges) != 2 {
		t.Fatalf("graph %d nodes %d edges", len(g.Nodes), len(g.Edges))
	}
	if n := g.Nodes[1]; n.ID != "front:GET /x" || n.Overlap != (Overlap{Concurrent: 1, Sequential: 1}) || n.Overlap.Mode() != "mixed" {
		t.Errorf("front node %+v", *n)
	}
	if e := g.Edges[0]; e.From != "front:GET /x" || e.To != "back:db" || e.Count != 4 || e.Errors != 1 ||
		e.Overlap != (Overlap{Concurrent: 2, Sequential: 2}) || e.Latency.P50 != 40*us || !slices.Equal(e.Exemplars, []model.TraceID{id(0), id(1)}) {
		t.Errorf("db edge %+v", *e)
	}
	if e := g.Edges[1]; e.To != "cache:get" || e.Overlap.Mode() != "single" {
		t.Errorf("cache edge %+v", *e)
	}

	if len(a.Groups) != 2 {
		t.Fatalf("groups %d", len(a.Groups))
	}
	g0, g1 := a.Groups[0], a.Groups[1]
	if g0.Shape != "front:GET /x(back:db×2)" || g0.Count != 2 || g0.Spans != 3 || g0.Errors != 1 || g0.Latency.P50 != 100*us ||
		!slices.Equal(g0.Exemplars, []model.TraceID{id(0), id(1)}) {
		t.Errorf("group 0 %+v", *g0)
	}
	if g1.Shape != "front:GET /x(cache:get)" || g1.Count != 1 || len(g1.ID) != 16 {
		t.Errorf("group 1 %+v", *g1)
	}
	// Group IDs are stable across runs and independent of span order.
	for _, tr := range traces {
		slices.Reverse(tr)
	}
	if b := Aggregate(traces, Limits{}); b.Groups[0].ID != g0.ID {
		t.Errorf("group ID changed: %s then %s", g0.ID, b.Groups[0].ID)
	}
}

func TestSequentialVersusConcurrentModes(t *testing.T) {
	var traces [][]*model.Span
	for i := 0; i < 10; i++ {
		b := newBuilder(byte(20 + i))
		r := b.span(nil, "a", "seq", model.KindServer, 0, 100)
		for k := int64(0); k < 3; k++ {
			b.span(r, "b", "step", model.KindClient, 10+k*30, 30+k*30)
		}
		p := b.span(nil, "a", "par", model.KindServer, 0, 100)
		for k := int64(0); k < 3; k++ {
			b.span(p, "b", "fan", model.KindClient, 10+k, 90)
		}
		traces = append(traces, b.spans)
	}
	a := Aggregate(traces, Limits{})
	modes := map[string]string{}
	for _, e := range a.Graph.Edges {
		modes[e.To] = e.Overlap.Mode()
	}
	if modes["b:step"] != "sequential" || modes["b:fan"] != "concurrent" {
		t.Errorf("modes %v", modes)
	}
}

func TestShapeCut(t *testing.T) {
	b := newBuilder(30)
	r := b.span(nil, "s", "root", model.KindServer, 0, 100)
	for i := 0; i < 2000; i++ {
		b.span(r, "s", "child"+string(rune('a'+i%26))+string(rune('a'+i/26%26)), model.KindInternal, 1, 2)
	}
	s := Shape(b.spans)
	if len(s) > MaxShape || len(s) < MaxShape-10 {
		t.Errorf("shape length %d", len(s))
	}
}

// latencyPopulation makes n traces front:GET /x → back:db with log-normal db latency scaled by factor; with
// extra, every other trace also calls cache:get.
func latencyPopulation(seed uint64, n int, factor float64, extra bool) [][]*model.Span {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out [][]*model.Span
	for i := 0; i < n; i++ {
		b := newBuilder(0)
		b.trace[1], b.trace[2], b.trace[3] = byte(seed), byte(i), byte(i>>8)
		d := int64(factor * 1000 * math.Exp(rng.NormFloat64()*0.3))
		r := b.span(nil, "front", "GET /x", model.KindServer, 0, d+20)
		b.span(r, "back", "db", model.KindClient, 10, 10+d)
		if extra && i%2 == 0 {
			b.span(r, "cache", "get", model.KindClient, d+11, d+15)
		}
		out = append(out, b.spans)
	}
	return out
}

func TestComparePopulations(t *testing.T) {
	base := Aggregate(latencyPopulation(1, 300, 1, false), Limits{Nodes: -1})
	t.Run("noise is not change", func(t *testing.T) {
		for seed := uint64(2); seed < 12; seed++ {
			d := ComparePopulations(base, Aggregate(latencyPopulation(seed, 300, 1, false), Limits{Nodes: -1}), 0.1)
			for _, c := range d.Changes {
				if c.Significant {
					t.Errorf("seed %d: noise reported as change: %+v", seed, c)
				}
			}
		}
	})
	t.Run("a 50% slower db is found", func(t *testing.T) {
		d := ComparePopulations(base, Aggregate(latencyPopulation(3, 300, 1.5, false), Limits{Nodes: -1}), 0.1)
		db := d.Tree[0].Children[0]
		if db.Path != "front:GET /x/back:db" || !db.Latency.Significant || db.Latency.PValue > 1e-10 ||
			db.Latency.Ratio < 1.3 || db.Latency.Ratio > 1.7 || db.Calls.Significant {
			t.Errorf("db %+v", db)
		}
		if len(d.Changes) != 2 || d.Changes[0].What != "latency" {
			t.Errorf("changes %+v", d.Changes)
		}
	})
	t.Run("a small shift below the minimum effect is not reported", func(t *testing.T) {
		d := ComparePopulations(base, Aggregate(latencyPopulation(4, 3000, 1.05, false), Limits{Nodes: -1}), 0.1)
		if db := d.Tree[0].Children[0]; db.Latency.Significant {
			t.Errorf("5%% shift flagged with minEffect 10%%: %+v", db.Latency)
		}
	})
	t.Run("an appeared path", func(t *testing.T) {
		d := ComparePopulations(base, Aggregate(latencyPopulation(5, 300, 1, true), Limits{Nodes: -1}), 0.1)
		var found *DiffNode
		for _, c := range d.Tree[0].Children {
			if c.Name == "get" {
				found = c
			}
		}
		if found == nil || found.Status != StatusAppeared || found.A != nil || found.B.Count != 150 || !found.Calls.Significant {
			t.Fatalf("appeared node %+v", found)
		}
		if d.Changes[0].What != StatusAppeared || d.Changes[0].Path != "front:GET /x/cache:get" {
			t.Errorf("changes %+v", d.Changes)
		}
		back := ComparePopulations(Aggregate(latencyPopulation(5, 300, 1, true), Limits{Nodes: -1}), base, 0.1)
		if back.Tree[0].Children[len(back.Tree[0].Children)-1].Status != StatusDisappeared &&
			back.Tree[0].Children[0].Status != StatusDisappeared {
			t.Errorf("disappeared not found: %+v", back.Tree[0].Children)
		}
	})
}

func TestMannWhitney(t *testing.T) {
	// Known value: a = {1,2,3}, b = {4,5,6}: U = 0; exact two-sided p = 0.1, normal approx with continuity ≈ 0.0809.
	u, p := MannWhitney([]int64{1, 2, 3}, []int64{4, 5, 6})
	if u != 0 || math.Abs(p-0.0809) > 0.001 {
		t.Errorf("U %v p %v", u, p)
	}
	if _, p := MannWhitney([]int64{5, 5, 5}, []int64{5, 5, 5}); p != 1 {
		t.Errorf("identical ties p %v", p)
	}
	if _, p := MannWhitney(nil, []int64{1}); p != 1 {
		t.Errorf("empty p %v", p)
	}
}

func TestCompareTraces(t *testing.T) {
	a, b := newBuilder(40), newBuilder(41)
	ra := a.span(nil, "front", "GET /x", model.KindServer, 0, 100)
	a.span(ra, "back", "db", model.KindClient, 10, 30)
	a.span(ra, "back", "db", model.KindClient, 40, 60)
	a.span(ra, "cache", "get", model.KindClient, 70, 80)
	rb := b.span(nil, "front", "GET /x", model.KindServer, 0, 150)
	b.span(rb, "back", "db", model.KindClient, 10, 30)
	b.span(rb, "back", "db", model.KindClient, 40, 120)
	q := b.span(rb, "back", "db", model.KindClient, 125, 140)
	b.span(q, "disk", "read", model.KindInternal, 126, 139)
	d := CompareTraces(a.spans, b.spans)
	type row struct {
		path   string
		index  int
		status string
		delta  int64
	}
	var got []row
	for _, n := range d.Nodes {
		got = append(got, row{n.Path, n.Index, n.Status, n.Delta / us})
	}
	want := []row{
		{"front:GET /x", 0, StatusBoth, 50},
		{"front:GET /x/back:db", 0, StatusBoth, 0},
		{"front:GET /x/back:db", 1, StatusBoth, 60},
		{"front:GET /x/back:db", 2, StatusAdded, 0},
		{"front:GET /x/back:db/disk:read", 0, StatusAdded, 0},
		{"front:GET /x/cache:get", 0, StatusRemoved, 0},
	}
	if !slices.Equal(got, want) {
		t.Errorf("nodes\n%v\nwant\n%v", got, want)
	}
	if d.Added != 2 || d.Removed != 1 || d.A.Duration != 100*us || d.B.Duration != 150*us || d.B.Spans != 5 {
		t.Errorf("diff %+v", d)
	}
	if d.Nodes[0].A.Self != 50*us || d.Nodes[0].B.Self != 35*us {
		t.Errorf("root self %d %d", d.Nodes[0].A.Self, d.Nodes[0].B.Self)
	}
}

func TestServicesAndOperations(t *testing.T) {
	traces := population()
	g := Services(traces, 0, 0)
	if len(g.Nodes) != 3 || g.Nodes[0].Service != "back" || g.Nodes[0].Spans != 4 || g.Nodes[0].Errors != 1 {
		t.Fatalf("nodes %+v", g.Nodes)
	}
	if len(g.Edges) != 2 {
		t.Fatalf("edges %+v", g.Edges)
	}
	e := g.Edges[0]
	if e.Parent != "front" || e.Child != "back" || e.Count != 4 || e.Errors != 1 || e.Latency.P50 != 40*us || e.Rate != 0 ||
		!slices.Equal(e.Exemplars, []model.TraceID{traces[0][0].TraceID, traces[1][0].TraceID}) {
		t.Errorf("edge %+v", *e)
	}
	g = Services(traces, 5*us, 5*us+2e9)
	if len(g.Edges) != 2 || g.Edges[0].Count != 4 || g.Edges[0].Rate != 2 || g.Edges[1].Rate != 0.5 {
		t.Errorf("windowed edges %+v %+v", *g.Edges[0], *g.Edges[1])
	}

	ops := Operations(traces, "back", "", 0, 0)
	if len(ops) != 1 || ops[0].Count != 4 || ops[0].Errors != 1 || ops[0].ErrorRate() != 0.25 {
		t.Fatalf("ops %+v", ops)
	}
	// 30µs falls in [16,32), 40 in [32,64), 100 in [64,128) and 170 in [128,256).
	var hist []int
	for _, b := range ops[0].Histogram {
		hist = append(hist, int(b.Lower/us), b.Count)
	}
	if !slices.Equal(hist, []int{16, 1, 32, 1, 64, 1, 128, 1}) {
		t.Errorf("histogram %v", hist)
	}
	if ex := ops[0].Histogram[2].Exemplars; len(ex) != 1 || ex[0] != traces[1][0].TraceID {
		t.Errorf("exemplars %v", ex)
	}
	if ops := Operations(traces, "front", "nope", 0, 0); len(ops) != 0 {
		t.Errorf("unknown operation %+v", ops)
	}
	if bucketOf(999) != 0 || bucketOf(1000) != 1 || bucketOf(1999) != 1 || bucketOf(2000) != 2 {
		t.Errorf("buckets")
	}
}

func TestQuantilesAgreeWithSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for n := 1; n < 3000; n += 1 + n/3 {
		ds := make([]int64, n)
		for i := range ds {
			ds[i] = rng.Int64N(int64(n/2 + 1)) // many ties
		}
		sorted := slices.Clone(ds)
		slices.Sort(sorted)
		p50, p90, p99 := quantiles(ds)
		if p50 != percentile(sorted, .5) || p90 != percentile(sorted, .9) || p99 != percentile(sorted, .99) {
			t.Fatalf("n=%d: %d %d %d, want %d %d %d", n, p50, p90, p99, percentile(sorted, .5), percentile(sorted, .9), percentile(sorted, .99))
		}
	}
}

func TestAggregateLimits(t *testing.T) {
	a := Aggregate(population(), Limits{Nodes: 2, Groups: 1})
	if a.PrunedNodes != 1 || a.PrunedGroups != 1 || len(a.Groups) != 1 || len(a.Tree) != 1 || len(a.Tree[0].Children) != 1 ||
		a.Tree[0].Children[0].Name != "db" {
		t.Errorf("pruned %d nodes %d groups; tree %+v", a.PrunedNodes, a.PrunedGroups, a.Tree)
	}
}

func TestMannWhitneyImplicitZeros(t *testing.T) {
	a, b := []int64{1, 1, 2, 5}, []int64{1, 3, 3}
	withZeros := func(vs []int64, z int) []int64 { return append(make([]int64, z), vs...) }
	u1, p1 := mannWhitney(a, b, 7, 3)
	u2, p2 := MannWhitney(withZeros(a, 7), withZeros(b, 3))
	if u1 != u2 || math.Abs(p1-p2) > 1e-12 {
		t.Errorf("implicit zeros U %v p %v, explicit U %v p %v", u1, p1, u2, p2)
	}
}

// A server span recorded on a clock far ahead of its client's: the views compare it with its client as if it ran
// inside it, as the clock estimate would place it, so the client's self time is its own, not the whole call.
func TestAggregateAlignsSkewedServers(t *testing.T) {
	b := newBuilder(9)
	r := b.span(nil, "front", "GET /x", model.KindServer, 0, 100)
	c := b.span(r, "front", "call back", model.KindClient, 10, 90)
	s := b.span(c, "back", "GET /y", model.KindServer, 1000, 1060) // 60 µs, recorded 990 µs late
	b.span(s, "back", "query", model.KindClient, 1010, 1050)
	b.span(r, "front", "log", model.KindInternal, 92, 95)
	a := Aggregate([][]*model.Span{b.spans}, Limits{})
	front := a.Tree[0]
	call := front.Children[0]
	server := call.Children[0]
	if front.Self != 17*us || call.Self != 20*us || server.Self != 20*us || server.Children[0].Self != 40*us {
		t.Errorf("self times: root %d, client %d, server %d, query %d µs; want 17, 20, 20, 40",
			front.Self/us, call.Self/us, server.Self/us, server.Children[0].Self/us)
	}
	// The same trace with agreeing clocks gives the same self times, and nothing moves.
	s.Start -= 990 * us
	b.spans[3].Start -= 990 * us
	if again := Aggregate([][]*model.Span{b.spans}, Limits{}); again.Tree[0].Children[0].Self != 20*us {
		t.Errorf("client self %d µs with agreeing clocks", again.Tree[0].Children[0].Self/us)
	}
	// A comparison of two traces sees the skewed client's self time as its own too.
	skewed := slices.Clone(b.spans)
	for _, i := range []int{2, 3} {
		c := *skewed[i]
		c.Start += 990 * us
		skewed[i] = &c
	}
	d := CompareTraces(b.spans, skewed)
	for _, m := range d.Nodes {
		if m.Name == "call back" && (m.A == nil || m.B == nil || m.A.Self != 20*us || m.B.Self != 20*us) {
			t.Errorf("client in the comparison: %+v %+v", m.A, m.B)
		}
	}
}
