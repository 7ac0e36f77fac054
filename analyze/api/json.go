package api

import (
	"fmt"
	"math"

	"github.com/weftrace/weft/analyze"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
)

// The JSON shapes of docs/analysis.md. Times are Unix microseconds (integers); durations are microseconds
// (numbers with a fraction).

func usTime(ns int64) int64  { return ns / 1000 }
func usDur(ns int64) float64 { return float64(ns) / 1000 }

// unitHex writes an execution unit as the wire format does: 16 lowercase hex digits.
func unitHex(u uint64) string { return fmt.Sprintf("%016x", u) }

func traceIDs(ids []model.TraceID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// finite makes ±Inf and NaN, which JSON cannot carry, into null.
func finite(f float64) *float64 {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	return &f
}

type spanRef struct {
	SpanID  string `json:"spanID"`
	Service string `json:"service"`
	Name    string `json:"name"`
}

func refOf(s *model.Span) *spanRef {
	if s == nil {
		return nil
	}
	return &spanRef{s.SpanID.String(), s.Service(), s.Name}
}

type segmentJSON struct {
	SpanID   string  `json:"spanID"`
	Service  string  `json:"service"`
	Name     string  `json:"name"`
	Unit     string  `json:"unit,omitempty"`
	Kind     string  `json:"kind"`
	Start    int64   `json:"start"`
	End      int64   `json:"end"`
	Duration float64 `json:"duration"`
}

type spanTimeJSON struct {
	SpanID   string  `json:"spanID"`
	Service  string  `json:"service"`
	Name     string  `json:"name"`
	Duration float64 `json:"duration"`
	Critical float64 `json:"critical"`
	Self     float64 `json:"self"`
}

type pathOut struct {
	TraceID  string         `json:"traceID"`
	Method   string         `json:"method"`
	Complete bool           `json:"complete"`
	Root     *spanRef       `json:"root"`
	Start    int64          `json:"start"`
	End      int64          `json:"end"`
	Duration float64        `json:"duration"`
	Length   float64        `json:"length"`
	Segments []segmentJSON  `json:"segments"`
	Spans    []spanTimeJSON `json:"spans"`
}

func pathJSON(p *analyze.Path) pathOut {
	out := pathOut{Method: p.Method, Complete: p.Complete, Root: refOf(p.Root), Start: usTime(p.Start), End: usTime(p.End),
		Duration: usDur(p.End - p.Start), Length: usDur(p.Length), Segments: []segmentJSON{}, Spans: []spanTimeJSON{}}
	if p.Root != nil {
		out.TraceID = p.Root.TraceID.String()
	}
	for _, s := range p.Segments {
		sp := p.SpanAt(int(s.Index))
		seg := segmentJSON{SpanID: sp.SpanID.String(), Service: sp.Service(), Name: sp.Name, Kind: s.Kind.String(),
			Start: usTime(s.Start), End: usTime(s.End), Duration: usDur(s.End - s.Start)}
		if s.Unit != 0 {
			seg.Unit = unitHex(s.Unit)
		}
		out.Segments = append(out.Segments, seg)
	}
	for _, st := range p.Spans {
		out.Spans = append(out.Spans, spanTimeJSON{st.Span.SpanID.String(), st.Span.Service(), st.Span.Name,
			usDur(st.Span.Duration), usDur(st.Critical), usDur(st.Self)})
	}
	return out
}

type processJSON struct {
	ID          int               `json:"id"`
	Service     string            `json:"service"`
	Attrs       map[string]string `json:"attrs"`
	Root        bool              `json:"root"`
	Offset      float64           `json:"offset"`
	Lower       *float64          `json:"lower"`
	Upper       *float64          `json:"upper"`
	Constrained bool              `json:"constrained"`
	Spans       int               `json:"spans"`
}

type inconsistencyJSON struct {
	Kind      string   `json:"kind"`
	From      *spanRef `json:"from"`
	To        *spanRef `json:"to"`
	Violation float64  `json:"violation"`
	Message   string   `json:"message"`
}

type adjustedSpanJSON struct {
	SpanID        string  `json:"spanID"`
	Service       string  `json:"service"`
	Name          string  `json:"name"`
	Process       int     `json:"process"`
	Start         int64   `json:"start"`
	AdjustedStart int64   `json:"adjustedStart"`
	Duration      float64 `json:"duration"`
	Offset        float64 `json:"offset"`
}

type clockOut struct {
	TraceID            string              `json:"traceID"`
	Choose             string              `json:"choose"`
	Processes          []processJSON       `json:"processes"`
	Inconsistencies    []inconsistencyJSON `json:"inconsistencies"`
	InconsistencyCount int                 `json:"inconsistencyCount"`
	Spans              []adjustedSpanJSON  `json:"spans"`
}

func clockJSON(spans []*model.Span, c *analyze.Clock) clockOut {
	out := clockOut{Choose: c.Choose.String(), Processes: []processJSON{}, Inconsistencies: []inconsistencyJSON{},
		InconsistencyCount: c.InconsistencyCount, Spans: make([]adjustedSpanJSON, 0, len(spans))}
	if len(spans) > 0 {
		out.TraceID = spans[0].TraceID.String()
	}
	for _, p := range c.Processes {
		pj := processJSON{ID: p.ID, Service: p.Service, Attrs: map[string]string{}, Root: p.Root, Offset: usDur(p.Offset),
			Constrained: p.Constrained, Spans: p.Spans}
		for _, a := range p.Attrs {
			pj.Attrs[a.Key] = a.Value.AsString()
		}
		if p.LowerBounded {
			pj.Lower = finite(usDur(p.Lower))
		}
		if p.UpperBounded {
			pj.Upper = finite(usDur(p.Upper))
		}
		out.Processes = append(out.Processes, pj)
	}
	for _, i := range c.Inconsistencies {
		out.Inconsistencies = append(out.Inconsistencies, inconsistencyJSON{i.Kind, refOf(i.Cause), refOf(i.Effect), usDur(i.Violation), i.Message})
	}
	for i, s := range spans {
		off := c.Offset(i)
		out.Spans = append(out.Spans, adjustedSpanJSON{s.SpanID.String(), s.Service(), s.Name, c.SpanProcess[i],
			usTime(s.Start), usTime(s.Start + off), usDur(s.Duration), usDur(off)})
	}
	return out
}

type latencyJSON struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean"`
}

func latency(l analyze.Latency) latencyJSON {
	return latencyJSON{usDur(l.P50), usDur(l.P90), usDur(l.P99), usDur(l.Mean)}
}

type nodeJSON struct {
	Path      string  `json:"path"`
	Service   string  `json:"service"`
	Name      string  `json:"name"`
	Depth     int     `json:"depth"`
	Count     int     `json:"count"`
	Traces    int     `json:"traces"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	latencyJSON
	Self      float64    `json:"self"`
	Exemplars []string   `json:"exemplars"`
	Children  []nodeJSON `json:"children"`
}

func nodes(ns []*analyze.Node) []nodeJSON {
	out := make([]nodeJSON, 0, len(ns))
	for _, n := range ns {
		out = append(out, nodeJSON{n.Path, n.Service, n.Name, n.Depth, n.Count, n.Traces, n.Errors, n.ErrorRate(),
			latency(n.Latency), usDur(n.Self), traceIDs(n.Exemplars), nodes(n.Children)})
	}
	return out
}

type flowNodeJSON struct {
	ID        string  `json:"id"`
	Service   string  `json:"service"`
	Name      string  `json:"name"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	latencyJSON
	Concurrent int      `json:"concurrent"`
	Sequential int      `json:"sequential"`
	Mode       string   `json:"mode"`
	Exemplars  []string `json:"exemplars"`
}

type flowEdgeJSON struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	latencyJSON
	Concurrent int      `json:"concurrent"`
	Sequential int      `json:"sequential"`
	Mode       string   `json:"mode"`
	Exemplars  []string `json:"exemplars"`
}

type graphJSON struct {
	Nodes []flowNodeJSON `json:"nodes"`
	Edges []flowEdgeJSON `json:"edges"`
}

type groupJSON struct {
	ID        string  `json:"id"`
	Shape     string  `json:"shape"`
	Spans     int     `json:"spans"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	latencyJSON
	Exemplars []string `json:"exemplars"`
}

type aggregationOut struct {
	Traces       int         `json:"traces"`
	Spans        int         `json:"spans"`
	Truncated    bool        `json:"truncated"`
	PrunedNodes  int         `json:"prunedNodes"`
	PrunedGroups int         `json:"prunedGroups"`
	Tree         []nodeJSON  `json:"tree"`
	Graph        graphJSON   `json:"graph"`
	Groups       []groupJSON `json:"groups"`
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func aggregationJSON(a *analyze.Aggregation, truncated bool) aggregationOut {
	out := aggregationOut{Traces: a.Traces, Spans: a.Spans, Truncated: truncated, PrunedNodes: a.PrunedNodes, PrunedGroups: a.PrunedGroups, Tree: nodes(a.Tree),
		Graph: graphJSON{Nodes: []flowNodeJSON{}, Edges: []flowEdgeJSON{}}, Groups: []groupJSON{}}
	for _, n := range a.Graph.Nodes {
		out.Graph.Nodes = append(out.Graph.Nodes, flowNodeJSON{n.ID, n.Service, n.Name, n.Count, n.Errors, ratio(n.Errors, n.Count),
			latency(n.Latency), n.Overlap.Concurrent, n.Overlap.Sequential, n.Overlap.Mode(), traceIDs(n.Exemplars)})
	}
	for _, e := range a.Graph.Edges {
		out.Graph.Edges = append(out.Graph.Edges, flowEdgeJSON{e.From, e.To, e.Count, e.Errors, ratio(e.Errors, e.Count),
			latency(e.Latency), e.Overlap.Concurrent, e.Overlap.Sequential, e.Overlap.Mode(), traceIDs(e.Exemplars)})
	}
	for _, g := range a.Groups {
		out.Groups = append(out.Groups, groupJSON{g.ID, g.Shape, g.Spans, g.Count, g.Errors, ratio(g.Errors, g.Count),
			latency(g.Latency), traceIDs(g.Exemplars)})
	}
	return out
}

type traceInfoJSON struct {
	TraceID  string  `json:"traceID"`
	Spans    int     `json:"spans"`
	Duration float64 `json:"duration"`
}

type spanSideJSON struct {
	SpanID   string  `json:"spanID"`
	Duration float64 `json:"duration"`
	Self     float64 `json:"self"`
}

type spanMatchJSON struct {
	Path    string        `json:"path"`
	Service string        `json:"service"`
	Name    string        `json:"name"`
	Index   int           `json:"index"`
	Depth   int           `json:"depth"`
	Status  string        `json:"status"`
	A       *spanSideJSON `json:"a,omitempty"`
	B       *spanSideJSON `json:"b,omitempty"`
	Delta   float64       `json:"delta"`
}

type traceDiffOut struct {
	Mode    string          `json:"mode"`
	A       traceInfoJSON   `json:"a"`
	B       traceInfoJSON   `json:"b"`
	Added   int             `json:"added"`
	Removed int             `json:"removed"`
	Nodes   []spanMatchJSON `json:"nodes"`
}

func spanSide(s *analyze.SpanSide) *spanSideJSON {
	if s == nil {
		return nil
	}
	return &spanSideJSON{s.Span.SpanID.String(), usDur(s.Duration), usDur(s.Self)}
}

func traceDiffJSON(d *analyze.TraceDiff) traceDiffOut {
	out := traceDiffOut{Mode: "traces", Added: d.Added, Removed: d.Removed, Nodes: make([]spanMatchJSON, 0, len(d.Nodes)),
		A: traceInfoJSON{d.A.TraceID.String(), d.A.Spans, usDur(d.A.Duration)},
		B: traceInfoJSON{d.B.TraceID.String(), d.B.Spans, usDur(d.B.Duration)}}
	for _, n := range d.Nodes {
		out.Nodes = append(out.Nodes, spanMatchJSON{n.Path, n.Service, n.Name, n.Index, n.Depth, n.Status,
			spanSide(n.A), spanSide(n.B), usDur(n.Delta)})
	}
	return out
}

type populationJSON struct {
	Traces    int  `json:"traces"`
	Spans     int  `json:"spans"`
	Truncated bool `json:"truncated"`
}

type sideJSON struct {
	Count     int     `json:"count"`
	Traces    int     `json:"traces"`
	PerTrace  float64 `json:"perTrace"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	latencyJSON
}

type changeJSON struct {
	Delta       float64  `json:"delta"`
	Ratio       *float64 `json:"ratio"`
	PValue      float64  `json:"pValue"`
	Significant bool     `json:"significant"`
}

type diffNodeJSON struct {
	Path     string         `json:"path"`
	Service  string         `json:"service"`
	Name     string         `json:"name"`
	Depth    int            `json:"depth"`
	Status   string         `json:"status"`
	A        *sideJSON      `json:"a,omitempty"`
	B        *sideJSON      `json:"b,omitempty"`
	Latency  changeJSON     `json:"latency"`
	Calls    changeJSON     `json:"calls"`
	Children []diffNodeJSON `json:"children"`
}

type changeItemJSON struct {
	Path        string   `json:"path"`
	What        string   `json:"what"`
	Delta       float64  `json:"delta"`
	Ratio       *float64 `json:"ratio"`
	PValue      float64  `json:"pValue"`
	Significant bool     `json:"significant"`
}

type populationDiffOut struct {
	Mode    string           `json:"mode"`
	A       populationJSON   `json:"a"`
	B       populationJSON   `json:"b"`
	Pruned  int              `json:"pruned"`
	Tree    []diffNodeJSON   `json:"tree"`
	Changes []changeItemJSON `json:"changes"`
}

func side(s *analyze.Side) *sideJSON {
	if s == nil {
		return nil
	}
	return &sideJSON{s.Count, s.Traces, s.PerTrace, s.Errors, s.ErrorRate(), latency(s.Latency)}
}

// change converts a change's delta by scale: 1e-3 for latency (ns to µs), 1 for calls per trace.
func change(c analyze.Change, scale float64) changeJSON {
	return changeJSON{c.Delta * scale, finite(c.Ratio), c.PValue, c.Significant}
}

func diffNodes(ns []*analyze.DiffNode) []diffNodeJSON {
	out := make([]diffNodeJSON, 0, len(ns))
	for _, n := range ns {
		out = append(out, diffNodeJSON{n.Path, n.Service, n.Name, n.Depth, n.Status, side(n.A), side(n.B),
			change(n.Latency, 1e-3), change(n.Calls, 1), diffNodes(n.Children)})
	}
	return out
}

func populationDiffJSON(d *analyze.PopulationDiff, truncA, truncB bool) populationDiffOut {
	out := populationDiffOut{Mode: "populations", A: populationJSON{d.A.Traces, d.A.Spans, truncA},
		B: populationJSON{d.B.Traces, d.B.Spans, truncB}, Pruned: d.Pruned, Tree: diffNodes(d.Tree), Changes: []changeItemJSON{}}
	for _, c := range d.Changes {
		delta := c.Delta
		if c.What == "latency" {
			delta *= 1e-3
		}
		out.Changes = append(out.Changes, changeItemJSON{c.Path, c.What, delta, finite(c.Ratio), c.PValue, c.Significant})
	}
	return out
}

type serviceNodeJSON struct {
	Service   string  `json:"service"`
	Spans     int     `json:"spans"`
	Errors    int     `json:"errors"`
	Rate      float64 `json:"rate"`
	ErrorRate float64 `json:"errorRate"`
}

type serviceEdgeJSON struct {
	Parent    string  `json:"parent"`
	Child     string  `json:"child"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	Rate      float64 `json:"rate"`
	ErrorRate float64 `json:"errorRate"`
	latencyJSON
	Exemplars []string `json:"exemplars"`
}

type serviceGraphOut struct {
	Start     int64             `json:"start"`
	End       int64             `json:"end"`
	Traces    int               `json:"traces"`
	Truncated bool              `json:"truncated"`
	Nodes     []serviceNodeJSON `json:"nodes"`
	Edges     []serviceEdgeJSON `json:"edges"`
}

func serviceGraphJSON(g *analyze.ServiceGraph, traces int, truncated bool) serviceGraphOut {
	out := serviceGraphOut{Start: usTime(g.Start), End: usTime(g.End), Traces: traces, Truncated: truncated,
		Nodes: []serviceNodeJSON{}, Edges: []serviceEdgeJSON{}}
	for _, n := range g.Nodes {
		out.Nodes = append(out.Nodes, serviceNodeJSON{n.Service, n.Spans, n.Errors, n.Rate, ratio(n.Errors, n.Spans)})
	}
	for _, e := range g.Edges {
		out.Edges = append(out.Edges, serviceEdgeJSON{e.Parent, e.Child, e.Count, e.Errors, e.Rate, ratio(e.Errors, e.Count), latency(e.Latency), traceIDs(e.Exemplars)})
	}
	return out
}

type bucketJSON struct {
	Lower     float64  `json:"lower"`
	Upper     float64  `json:"upper"`
	Count     int      `json:"count"`
	Exemplars []string `json:"exemplars"`
}

type operationJSON struct {
	Service   string  `json:"service"`
	Name      string  `json:"name"`
	Count     int     `json:"count"`
	Rate      float64 `json:"rate"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	latencyJSON
	Histogram []bucketJSON `json:"histogram"`
}

type operationsOut struct {
	Service    string          `json:"service"`
	Operation  string          `json:"operation,omitempty"`
	Start      int64           `json:"start"`
	End        int64           `json:"end"`
	Traces     int             `json:"traces"`
	Truncated  bool            `json:"truncated"`
	Operations []operationJSON `json:"operations"`
}

func operationsJSON(q search.Query, ops []*analyze.OperationStats, traces int, truncated bool) operationsOut {
	out := operationsOut{Service: q.Service, Operation: q.Operation, Start: usTime(q.Start), End: usTime(q.End), Traces: traces,
		Truncated: truncated, Operations: []operationJSON{}}
	for _, o := range ops {
		oj := operationJSON{o.Service, o.Name, o.Count, o.Rate, o.Errors, o.ErrorRate(), latency(o.Latency), []bucketJSON{}}
		for _, b := range o.Histogram {
			oj.Histogram = append(oj.Histogram, bucketJSON{usDur(b.Lower), usDur(b.Upper), b.Count, traceIDs(b.Exemplars)})
		}
		out.Operations = append(out.Operations, oj)
	}
	return out
}
