package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/memstore"
)

const us = int64(1000)

// base is the time of every test trace: 2026-11-22T10:00:00Z.
var base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).UnixNano()

type builder struct {
	trace model.TraceID
	res   map[string]*model.Resource
	next  uint64
	spans []*model.Span
	attrs []model.Attr // resource attributes for every service
}

func newBuilder(id uint64, attrs ...model.Attr) *builder {
	b := &builder{res: map[string]*model.Resource{}, attrs: attrs}
	binary.BigEndian.PutUint64(b.trace[8:], id)
	b.trace[0] = 0x42
	return b
}

func (b *builder) span(parent *model.Span, service, name string, kind model.Kind, start, end int64) *model.Span {
	r := b.res[service]
	if r == nil {
		r = &model.Resource{Service: service, Attrs: append([]model.Attr{{Key: "host.name", Value: model.String(service)}}, b.attrs...)}
		b.res[service] = r
	}
	b.next++
	s := &model.Span{TraceID: b.trace, Name: name, Kind: kind, Start: base + start*us, Duration: (end - start) * us, Resource: r}
	binary.BigEndian.PutUint64(s.SpanID[:], b.next)
	if parent != nil {
		s.ParentID = parent.SpanID
	}
	b.spans = append(b.spans, s)
	return s
}

// pairBeer is a weft trace shaped like the demo's /pair/beer: two sequential calls to taster, whose clock is
// skewed by skew µs.
func pairBeer(id uint64, skew int64) *builder {
	b := newBuilder(id)
	r := b.span(nil, "matchmaker", "GET /pair/beer", model.KindServer, 0, 100)
	r.Causality = model.Causality{Unit: 1, StartSeq: 1, EndSeq: 8}
	for k, t := range []int64{5, 45} {
		c := b.span(r, "matchmaker", "taster.Rate", model.KindClient, t, t+35)
		seq := uint32(2 + 3*k)
		c.Causality = model.Causality{Unit: 1, StartSeq: seq, EndSeq: seq + 2}
		c.Events = []model.Event{{Time: base + (t+1)*us, Name: "weft.send", Seq: seq + 1}}
		s := b.span(c, "taster", "POST /rate", model.KindServer, t+5+skew, t+30+skew)
		s.Causality = model.Causality{Unit: uint64(2 + k), StartSeq: 1, EndSeq: 2, StartCause: model.EventRef{Unit: 1, Seq: seq + 1}}
	}
	return b
}

func serve(t *testing.T, traces ...[]*model.Span) *httptest.Server {
	t.Helper()
	st := memstore.New()
	for _, tr := range traces {
		if err := st.Write(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(NewHandler(st, Options{Now: func() time.Time { return time.Unix(0, base+int64(time.Minute)) }}))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path and decodes the JSON answer into out, checking the status.
func get(t *testing.T, srv *httptest.Server, path string, status int, out any) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: content type %q", path, ct)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func TestCriticalPathEndpoint(t *testing.T) {
	b := pairBeer(1, 0)
	srv := serve(t, b.spans)
	var p pathOut
	get(t, srv, "/api/weft/v1/traces/"+b.trace.String()+"/critical-path", 200, &p)
	if p.Method != "causal" || !p.Complete || p.Length != 100 || p.Duration != 100 || p.Root.Name != "GET /pair/beer" ||
		p.TraceID != b.trace.String() || p.Start != base/1000 {
		t.Errorf("path %+v", p)
	}
	// The sequential taster calls are on the path: what the demo's test checks.
	var taster []string
	for _, s := range p.Segments {
		if s.Service == "taster" && s.Name == "POST /rate" && s.Kind == "run" {
			taster = append(taster, s.SpanID)
			if s.Unit == "" || len(s.Unit) != 16 {
				t.Errorf("segment unit %q", s.Unit)
			}
		}
	}
	if len(taster) != 2 || taster[0] == taster[1] {
		t.Errorf("taster run segments %v", taster)
	}
	// Each taster span: 4µs of network before it and 25µs of its own work.
	n := 0
	for _, s := range p.Spans {
		if s.Service == "taster" && s.Critical == 29 && s.Self == 25 && s.Duration == 25 {
			n++
		}
	}
	if n != 2 {
		t.Errorf("spans %+v", p.Spans)
	}
}

func TestClockEndpoint(t *testing.T) {
	b := pairBeer(2, 1000) // taster's clock 1ms ahead
	srv := serve(t, b.spans)
	var c clockOut
	get(t, srv, "/api/weft/v1/traces/"+b.trace.String()+"/clock?choose=midpoint", 200, &c)
	if len(c.Processes) != 2 || c.Choose != "midpoint" || c.InconsistencyCount != 0 {
		t.Fatalf("clock %+v", c)
	}
	p := c.Processes[1]
	// Constraints: send at 6 (46) before start at 1010 (1050) => o >= -1004; server end 1035 (1075) <= 40 (80)
	// => o <= -995. Midpoint -999.5.
	if p.Service != "taster" || p.Offset != -999.5 || p.Lower == nil || *p.Lower != -1004 || p.Upper == nil || *p.Upper != -995 ||
		p.Attrs["host.name"] != "taster" || !p.Constrained {
		t.Errorf("taster process %+v", p)
	}
	if !c.Processes[0].Root || c.Processes[0].Offset != 0 {
		t.Errorf("root process %+v", c.Processes[0])
	}
	for _, s := range c.Spans {
		if s.Service == "taster" && s.AdjustedStart-s.Start != -1000 && s.AdjustedStart-s.Start != -999 {
			t.Errorf("adjusted %d raw %d", s.AdjustedStart, s.Start)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := serve(t)
	resp, err := http.Post(srv.URL+"/api/weft/v1/aggregate", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 405 || !strings.Contains(e.Error, "GET only") {
		t.Errorf("POST: %d %q %v", resp.StatusCode, e.Error, err)
	}
}

func TestTraceErrors(t *testing.T) {
	srv := serve(t, pairBeer(3, 0).spans)
	var e struct{ Error string }
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/weft/v1/traces/zz/critical-path", 400, "not a trace ID"},
		{"/api/weft/v1/traces/00000000000000000000000000000000/clock", 400, "not a trace ID"},
		{"/api/weft/v1/traces/4242/critical-path", 404, "not found"},
		{"/api/weft/v1/traces/4242/clock?choose=mean", 400, "choose"},
		{"/api/weft/v1/nothing", 404, "no endpoint"},
		{"/api/weft/v1/aggregate?minDuration=fast", 400, "minDuration"},
		{"/api/weft/v1/aggregate?q=" + url.QueryEscape(`service = `), 400, "q: search: column"},
		{"/api/weft/v1/aggregate?start=yesterday", 400, "start"},
		{"/api/weft/v1/aggregate?start=20&end=10", 400, "end is before start"},
		{"/api/weft/v1/aggregate?limit=0", 400, "limit"},
		{"/api/weft/v1/aggregate?limit=1000000", 400, "maximum"},
		{"/api/weft/v1/compare", 400, "compare needs"},
		{"/api/weft/v1/compare?a.service=x", 400, "compare needs"},
		{"/api/weft/v1/compare?a=1&b=nothex", 400, "b:"},
		{"/api/weft/v1/compare?a.q=x&b.q=y&minEffect=-1", 400, "minEffect"},
		{"/api/weft/v1/operations/stats", 400, "service is required"},
	} {
		get(t, srv, tc.path, tc.status, &e)
		if !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s: error %q, want it to say %q", tc.path, e.Error, tc.says)
		}
	}
}

// versioned writes n traces front:GET /x → back:db whose db latency is log-normal around scale µs, with
// resource attribute version.
func versioned(first uint64, n int, scale float64, version string) [][]*model.Span {
	rng := rand.New(rand.NewPCG(first, 3))
	var out [][]*model.Span
	for i := 0; i < n; i++ {
		b := newBuilder(first+uint64(i), model.Attr{Key: "version", Value: model.String(version)})
		d := int64(scale * math.Exp(rng.NormFloat64()*0.3))
		r := b.span(nil, "front", "GET /x", model.KindServer, int64(i), int64(i)+d+20)
		db := b.span(r, "back", "db", model.KindClient, int64(i)+10, int64(i)+10+d)
		if i%10 == 0 {
			db.StatusCode = model.StatusError
		}
		out = append(out, b.spans)
	}
	return out
}

func TestAggregateEndpoint(t *testing.T) {
	traces := versioned(100, 50, 1000, "1")
	srv := serve(t, traces...)
	var a aggregationOut
	get(t, srv, "/api/weft/v1/aggregate?service=back&limit=40", 200, &a)
	if a.Traces != 40 || a.Spans != 80 || !a.Truncated || len(a.Tree) != 1 {
		t.Fatalf("aggregate %d traces %d spans truncated %v", a.Traces, a.Spans, a.Truncated)
	}
	db := a.Tree[0].Children[0]
	if db.Path != "front:GET /x/back:db" || db.Count != 40 || db.P50 <= 500 || db.P50 >= 2000 || len(db.Exemplars) == 0 || db.Children == nil {
		t.Errorf("db node %+v", db)
	}
	if len(a.Graph.Nodes) != 2 || len(a.Graph.Edges) != 1 || a.Graph.Edges[0].Mode != "single" || len(a.Groups) != 1 ||
		a.Groups[0].Shape != "front:GET /x(back:db)" || a.Groups[0].Count != 40 {
		t.Errorf("graph %+v groups %+v", a.Graph, a.Groups)
	}
	// The query language and duration bounds narrow the population.
	get(t, srv, "/api/weft/v1/aggregate?q="+url.QueryEscape(`status = error`), 200, &a)
	if a.Traces != 5 || a.Truncated {
		t.Errorf("errors: %d traces", a.Traces)
	}
	get(t, srv, "/api/weft/v1/aggregate?operation=db&minDuration=1h", 200, &a)
	if a.Traces != 0 || len(a.Tree) != 0 || a.Tree == nil {
		t.Errorf("nothing that slow: %+v", a)
	}
}

func TestCompareEndpoint(t *testing.T) {
	one := versioned(1000, 200, 1000, "1")
	two := versioned(2000, 200, 1600, "2")
	srv := serve(t, append(one, two...)...)
	var d populationDiffOut
	get(t, srv, "/api/weft/v1/compare?a.q="+url.QueryEscape(`version="1"`)+"&b.q="+url.QueryEscape(`version="2"`)+"&a.limit=500&b.limit=500", 200, &d)
	if d.Mode != "populations" || d.A.Traces != 200 || d.B.Traces != 200 || len(d.Tree) != 1 {
		t.Fatalf("diff %+v", d)
	}
	db := d.Tree[0].Children[0]
	if db.Status != "both" || !db.Latency.Significant || db.Latency.Ratio == nil || *db.Latency.Ratio < 1.4 || db.Calls.Significant ||
		db.A.P50 >= db.B.P50 || db.Latency.Delta <= 300 {
		t.Errorf("db %+v", db)
	}
	if len(d.Changes) == 0 || d.Changes[0].What != "latency" {
		t.Errorf("changes %+v", d.Changes)
	}
	// The same version against itself: nothing significant.
	get(t, srv, "/api/weft/v1/compare?a.q="+url.QueryEscape(`version="1"`)+"&a.end="+itoa(base/1000+100)+
		"&b.q="+url.QueryEscape(`version="1"`)+"&b.start="+itoa(base/1000+101)+"&a.limit=500&b.limit=500", 200, &d)
	if d.A.Traces == 0 || d.B.Traces == 0 {
		t.Fatalf("halves %d %d", d.A.Traces, d.B.Traces)
	}
	for _, c := range d.Changes {
		if c.Significant {
			t.Errorf("noise reported: %+v", c)
		}
	}

	var td traceDiffOut
	get(t, srv, "/api/weft/v1/compare?a="+one[0][0].TraceID.String()+"&b="+two[0][0].TraceID.String(), 200, &td)
	if td.Mode != "traces" || td.Added != 0 || td.Removed != 0 || len(td.Nodes) != 2 || td.Nodes[1].Path != "front:GET /x/back:db" ||
		td.Nodes[1].A == nil || td.Nodes[1].B == nil || td.Nodes[1].Delta != td.Nodes[1].B.Duration-td.Nodes[1].A.Duration {
		t.Errorf("trace diff %+v", td)
	}
	var e struct{ Error string }
	get(t, srv, "/api/weft/v1/compare?a="+one[0][0].TraceID.String()+"&b=77", 404, &e)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestServicesAndOperationsEndpoints(t *testing.T) {
	srv := serve(t, versioned(5000, 30, 1000, "1")...)
	var g serviceGraphOut
	// The default window is the hour before "now" (a minute after the traces).
	get(t, srv, "/api/weft/v1/services/graph", 200, &g)
	if g.Traces != 30 || len(g.Nodes) != 2 || len(g.Edges) != 1 {
		t.Fatalf("graph %+v", g)
	}
	e := g.Edges[0]
	if e.Parent != "front" || e.Child != "back" || e.Count != 30 || e.Errors != 3 || e.ErrorRate != 0.1 ||
		math.Abs(e.Rate-30.0/3600) > 1e-9 || e.P50 <= 0 {
		t.Errorf("edge %+v", e)
	}
	get(t, srv, "/api/weft/v1/services/graph?start="+itoa(base/1000-10)+"&end="+itoa(base/1000+10), 200, &g)
	if len(g.Edges) != 1 || g.Edges[0].Count != 1 || math.Abs(g.Edges[0].Rate-0.05e6) > 1e-3 {
		// one db span started within [base-10µs, base+10µs] (at base+10µs): 1 per 20µs
		t.Errorf("windowed graph %+v", g)
	}

	var o operationsOut
	get(t, srv, "/api/weft/v1/operations/stats?service=back", 200, &o)
	if len(o.Operations) != 1 || o.Operations[0].Name != "db" || o.Operations[0].Count != 30 || o.Operations[0].Errors != 3 {
		t.Fatalf("operations %+v", o)
	}
	total := 0
	for _, b := range o.Operations[0].Histogram {
		total += b.Count
		if b.Upper != 2*b.Lower || (b.Count > 0) != (len(b.Exemplars) > 0) {
			t.Errorf("bucket %+v", b)
		}
	}
	if total != 30 {
		t.Errorf("histogram holds %d spans", total)
	}
	get(t, srv, "/api/weft/v1/operations/stats?service=back&operation=nope", 200, &o)
	if len(o.Operations) != 0 || o.Operations == nil {
		t.Errorf("unknown operation %+v", o)
	}
}
