package analyze_test

import (
	"fmt"

	"github.com/weftrace/weft/analyze"
	"github.com/weftrace/weft/model"
)

func ExampleCriticalPath() {
	front := &model.Resource{Service: "front"}
	back := &model.Resource{Service: "back"}
	ms := int64(1_000_000)
	root := &model.Span{TraceID: model.TraceID{15: 1}, SpanID: model.SpanID{7: 1}, Name: "GET /", Kind: model.KindServer,
		Start: 0, Duration: 100 * ms, Resource: front}
	span := func(id byte, parent *model.Span, r *model.Resource, name string, kind model.Kind, start, end int64) *model.Span {
		return &model.Span{TraceID: root.TraceID, SpanID: model.SpanID{7: id}, ParentID: parent.SpanID, Name: name, Kind: kind,
			Start: start * ms, Duration: (end - start) * ms, Resource: r}
	}
	cache := span(2, root, front, "cache.Get", model.KindInternal, 5, 15)
	call := span(3, root, front, "back.Query", model.KindClient, 20, 95)
	// back's clock runs 2s ahead of front's: raw, its span starts after its client has ended.
	query := span(4, call, back, "Query", model.KindServer, 2025, 2090)

	p := analyze.CriticalPath([]*model.Span{root, cache, call, query}, analyze.ChooseMidpoint)
	fmt.Println(p.Method, p.Length/ms, "ms")
	for _, s := range p.Segments {
		sp := p.SpanAt(int(s.Index))
		fmt.Printf("%-6s %-12s %3d → %3d ms\n", sp.Service(), sp.Name, s.Start/ms, s.End/ms)
	}
	fmt.Println("back's offset:", p.Clock.Processes[1].Offset/ms, "ms")
	// Output:
	// heuristic 100 ms
	// front  GET /          0 →   5 ms
	// front  cache.Get      5 →  15 ms
	// front  GET /         15 →  20 ms
	// front  back.Query    20 →  25 ms
	// back   Query         25 →  90 ms
	// front  back.Query    90 →  95 ms
	// front  GET /         95 → 100 ms
	// back's offset: -2000 ms
}

func ExampleAggregate() {
	var traces [][]*model.Span
	for i, d := range []int64{30, 10, 20} {
		r := &model.Resource{Service: "shop"}
		id := model.TraceID{15: byte(i + 1)}
		root := &model.Span{TraceID: id, SpanID: model.SpanID{7: 1}, Name: "GET /cart", Start: 0, Duration: d + 5, Resource: r}
		db := &model.Span{TraceID: id, SpanID: model.SpanID{7: 2}, ParentID: root.SpanID, Name: "SELECT", Start: 1, Duration: d, Resource: r}
		traces = append(traces, []*model.Span{root, db})
	}
	a := analyze.Aggregate(traces, analyze.Limits{})
	n := a.Tree[0].Children[0]
	fmt.Println(n.Path, n.Count, n.Latency.P50, n.Latency.P99)
	fmt.Println(a.Groups[0].Shape, a.Groups[0].Count)
	// Output:
	// shop:GET /cart/shop:SELECT 3 20 30
	// shop:GET /cart(shop:SELECT) 3
}
