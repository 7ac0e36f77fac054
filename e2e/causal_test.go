package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	weftapi "github.com/weftrace/weft/query/weft"
	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlphttp"
	"github.com/weftrace/weft/trace/propagation"
)

// tee keeps a copy of every span the library exports and passes the batch on to weft: the test compares what the
// library recorded with what weft's API answers, field by field.
type tee struct {
	next  trace.Exporter
	mu    sync.Mutex
	spans []*trace.SpanData
}

func (e *tee) ExportSpans(ctx context.Context, spans []*trace.SpanData) error {
	e.mu.Lock()
	for _, s := range spans {
		e.spans = append(e.spans, s.Clone())
	}
	e.mu.Unlock()
	return e.next.ExportSpans(ctx, spans)
}

func (e *tee) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

// libraryProvider is a provider of weft's library for one service, exporting to w with the library's OTLP/HTTP
// exporter through a tee that keeps what it exported.
func libraryProvider(t *testing.T, w *weft, service string) (*trace.Provider, *tee) {
	t.Helper()
	exp, err := otlphttp.New(otlphttp.Config{Endpoint: "http://" + w.addr(t, "otlp-http") + "/v1/traces"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &tee{next: exp}
	return trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: service}, Exporter: rec,
		BatchTimeout: 50 * time.Millisecond}), rec
}

// The spans of the causal chain.
const (
	pairName  = "GET /pair"
	fastName  = "lookup fast"
	slowName  = "lookup slow"
	warmName  = "warm cache"
	callName  = "call taster"
	rateName  = "POST /rate"
	scoreName = "score beer"
	fastSleep = 10 * time.Millisecond
	slowSleep = 80 * time.Millisecond
	warmSleep = 5 * time.Millisecond
	rateSleep = 40 * time.Millisecond
)

// TestCausalChain runs two services traced by weft's library in one process, each with its own provider and
// OTLP/HTTP exporter: matchmaker forks two goroutines with a trace.Group and one with trace.Go, joins them, and
// then calls taster over real HTTP on loopback with W3C propagation. It then checks that weft's trace API shows
// every span's execution unit, sequence numbers and causes exactly as the library recorded them, that taster's
// server span names matchmaker's send event as its cause, that each join names the joined unit's last event, and
// that the critical path follows the causal chain through the slowest goroutine and through taster.
func TestCausalChain(t *testing.T) {
	t.Parallel()
	w := startWeft(t)
	pa, recA := libraryProvider(t, w, "matchmaker")
	pb, recB := libraryProvider(t, w, "taster")
	tracerA, tracerB := pa.Tracer("e2e/matchmaker"), pb.Tracer("e2e/taster")

	// taster: extracts the W3C context, serves, and does part of the work in a child span.
	tracestates := make(chan string, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	need(t, err, "loopback listener")
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case tracestates <- r.Header.Get("tracestate"):
		default:
		}
		ctx := propagation.W3C{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracerB.Start(ctx, rateName, trace.WithKind(trace.KindServer))
		defer span.End()
		_, score := tracerB.Start(ctx, scoreName)
		time.Sleep(rateSleep)
		score.End()
		io.WriteString(rw, "5/5")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// matchmaker: forks, joins, then calls taster.
	ctx, root := tracerA.Start(context.Background(), pairName, trace.WithKind(trace.KindServer))
	traceID := root.SpanContext().TraceID.String()
	g := trace.NewGroup(ctx)
	for _, f := range []struct {
		name  string
		sleep time.Duration
	}{{fastName, fastSleep}, {slowName, slowSleep}} {
		g.Go(func(ctx context.Context) error {
			_, s := tracerA.Start(ctx, f.name)
			time.Sleep(f.sleep)
			s.End()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	trace.Go(ctx, func(ctx context.Context) {
		_, s := tracerA.Start(ctx, warmName)
		time.Sleep(warmSleep)
		s.End()
	}).Join()
	cctx, call := tracerA.Start(ctx, callName, trace.WithKind(trace.KindClient))
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, "http://"+ln.Addr().String()+"/rate", nil)
	if err != nil {
		t.Fatal(err)
	}
	propagation.W3C{}.Inject(cctx, propagation.HeaderCarrier(req.Header))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	call.End()
	root.End()

	flush, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, p := range []*trace.Provider{pa, pb} {
		if err := p.Shutdown(flush); err != nil {
			t.Fatalf("exporting: %v", err)
		}
	}
	lib := map[string]*trace.SpanData{} // by name
	for _, s := range append(recA.spans, recB.spans...) {
		lib[s.Name] = s
	}
	if len(lib) != 7 {
		t.Fatalf("the library exported %d spans, want 7: %v", len(lib), keys(lib))
	}

	tr := weftTrace(t, w, traceID, 7)
	api := map[string]weftapi.Span{}
	for _, s := range tr.Spans {
		api[s.Name] = s
	}
	if len(tr.Spans) != 7 {
		t.Errorf("weft has %d spans, want 7", len(tr.Spans))
	}

	// 1. Every span's causal fields and every event, as the library recorded them.
	for name, want := range lib {
		got, ok := api[name]
		if !ok {
			t.Errorf("weft has no span %q", name)
			continue
		}
		if got.SpanID != want.SpanID.String() {
			t.Errorf("%q: span ID %s, want %s", name, got.SpanID, want.SpanID)
		}
		if got.Causality == nil {
			t.Errorf("%q: no causality in weft's answer; the library recorded unit %s seq %d..%d", name,
				trace.UnitString(want.Unit), want.StartSeq, want.EndSeq)
			continue
		}
		wantC := weftapi.Causality{Unit: trace.UnitString(want.Unit), StartSeq: want.StartSeq, EndSeq: want.EndSeq,
			StartCause: ref(want.StartCause, want.TraceID)}
		if want.EndUnit != 0 {
			wantC.EndUnit = trace.UnitString(want.EndUnit)
		}
		if c := *got.Causality; c.Unit != wantC.Unit || c.StartSeq != wantC.StartSeq || c.EndSeq != wantC.EndSeq ||
			c.EndUnit != wantC.EndUnit || !sameRef(c.StartCause, wantC.StartCause) {
			t.Errorf("%q: causality %s, want %s", name, causalityText(c), causalityText(wantC))
		}
		if len(got.Events) != len(want.Events) {
			t.Errorf("%q: %d events, want %d", name, len(got.Events), len(want.Events))
			continue
		}
		for i, we := range want.Events {
			ge := got.Events[i]
			unit := we.Unit
			if unit == 0 {
				unit = want.Unit
			}
			if ge.Name != we.Name || ge.Seq != we.Seq || ge.Unit != trace.UnitString(unit) || !sameRef(ge.Cause, ref(we.Cause, want.TraceID)) {
				t.Errorf("%q event %d: %s on %s seq %d cause %s; want %s on %s seq %d cause %s", name, i, ge.Name, ge.Unit,
					ge.Seq, refText(ge.Cause), we.Name, trace.UnitString(unit), we.Seq, refText(ref(we.Cause, want.TraceID)))
			}
		}
	}

	// 2. taster's server span started because of matchmaker's send event, which travelled in tracestate.
	send := eventNamed(t, lib[callName], trace.EventSend)
	sendID := trace.EventID{Unit: send.Unit, Seq: send.Seq}
	if send.Unit == 0 {
		sendID.Unit = lib[callName].Unit
	}
	tracestate := <-tracestates
	if !strings.HasPrefix(tracestate, "weft="+sendID.String()) {
		t.Errorf("tracestate %q, want weft=%s first", tracestate, sendID)
	}
	if c := api[rateName].Causality; c == nil || !sameRef(c.StartCause, &weftapi.EventRef{Unit: trace.UnitString(sendID.Unit), Seq: sendID.Seq}) {
		t.Errorf("%q: causality %+v, want its start caused by %s (the send event of %q)", rateName, c, sendID, callName)
	}
	if api[rateName].ParentSpanID != api[callName].SpanID {
		t.Errorf("%q: parent %s, want %q's %s", rateName, api[rateName].ParentSpanID, callName, api[callName].SpanID)
	}

	// 3. Each goroutine's first span names a fork of the root; each join of the root names a goroutine's last event.
	var forks, joins []weftapi.Event
	for _, e := range api[pairName].Events {
		switch e.Name {
		case trace.EventFork:
			forks = append(forks, e)
		case trace.EventJoin:
			joins = append(joins, e)
		}
	}
	if len(forks) != 3 || len(joins) != 3 {
		t.Errorf("%q: %d forks and %d joins, want 3 of each", pairName, len(forks), len(joins))
	}
	rootUnit := api[pairName].Causality.Unit
	for _, name := range []string{fastName, slowName, warmName} {
		c := api[name].Causality
		if c == nil || c.StartCause == nil || c.Unit == rootUnit {
			t.Errorf("%q: causality %+v, want a unit of its own started by a fork", name, c)
			continue
		}
		if !slices.ContainsFunc(forks, func(f weftapi.Event) bool {
			return f.Unit == c.StartCause.Unit && f.Seq == c.StartCause.Seq && c.StartCause.TraceID == ""
		}) {
			t.Errorf("%q: start cause %s is none of %q's forks", name, refText(c.StartCause), pairName)
		}
		last := weftapi.EventRef{Unit: c.Unit, Seq: c.EndSeq}
		if !slices.ContainsFunc(joins, func(j weftapi.Event) bool { return sameRef(j.Cause, &last) }) {
			t.Errorf("%q ended with %s, which no join of %q names", name, refText(&last), pairName)
		}
	}

	// 4. The units: matchmaker's root unit and three goroutines, taster's server unit.
	services := map[string]string{}
	for _, u := range tr.Units {
		services[u.Unit] = u.Service
	}
	for _, name := range []string{pairName, fastName, slowName, warmName, rateName} {
		if c := api[name].Causality; c != nil && services[c.Unit] != api[name].Service {
			t.Errorf("%q's unit %s: service %q in units, want %q", name, c.Unit, services[c.Unit], api[name].Service)
		}
	}
	if len(tr.Units) != 5 {
		t.Errorf("%d units, want 5: %+v", len(tr.Units), tr.Units)
	}

	// The Jaeger API shows the causal fields as tags.
	var env jaegerEnvelope[[]jaegerTrace]
	w.get(t, "/api/traces/"+traceID, &env)
	for _, tr := range env.Data {
		for _, s := range tr.Spans {
			if s.OperationName == rateName {
				if kv, _ := jaegerTag(s.Tags, "weft.cause"); kv.Value != sendID.String() {
					t.Errorf("jaeger %q: weft.cause tag %v, want %s", rateName, kv.Value, sendID)
				}
			}
		}
	}

	// 5. The critical path follows the causal chain: root, the slow goroutine (not the fast one), the call,
	// taster's server span and its child.
	checkCriticalPath(t, w, traceID, api)
}

type criticalPath struct {
	Method   string  `json:"method"`
	Complete bool    `json:"complete"`
	Duration float64 `json:"duration"`
	Length   float64 `json:"length"`
	Segments []struct {
		SpanID   string  `json:"spanID"`
		Name     string  `json:"name"`
		Service  string  `json:"service"`
		Unit     string  `json:"unit"`
		Kind     string  `json:"kind"`
		Start    float64 `json:"start"`
		End      float64 `json:"end"`
		Duration float64 `json:"duration"`
	} `json:"segments"`
	Spans []struct {
		SpanID   string  `json:"spanID"`
		Name     string  `json:"name"`
		Critical float64 `json:"critical"`
	} `json:"spans"`
}

func checkCriticalPath(t *testing.T, w *weft, traceID string, api map[string]weftapi.Span) {
	t.Helper()
	var cp criticalPath
	if code := w.get(t, "/api/weft/v1/traces/"+traceID+"/critical-path", &cp); code != http.StatusOK {
		t.Fatalf("critical path: status %d", code)
	}
	if cp.Method != "causal" || !cp.Complete {
		t.Errorf("critical path: method %q complete %v, want causal and complete", cp.Method, cp.Complete)
	}
	var order []string // span names in path order, each once
	critical := map[string]float64{}
	for i, s := range cp.Segments {
		if len(order) == 0 || order[len(order)-1] != s.Name {
			order = append(order, s.Name)
		}
		critical[s.Name] += s.Duration
		if i > 0 && s.Start < cp.Segments[i-1].End-1 { // µs, with a fraction
			t.Errorf("segment %d (%s) starts at %v before the previous one ends at %v", i, s.Name, s.Start, cp.Segments[i-1].End)
		}
	}
	t.Logf("critical path: %q", order)
	pos := func(name string) int { return slices.Index(order, name) }
	for _, name := range []string{pairName, slowName, callName, rateName, scoreName} {
		if pos(name) < 0 {
			t.Errorf("critical path %q lacks %q", order, name)
		}
	}
	if pos(fastName) >= 0 {
		t.Errorf("critical path %q goes through %q, which finished before %q", order, fastName, slowName)
	}
	if !(pos(slowName) < pos(callName) && pos(callName) < pos(rateName) && pos(rateName) < pos(scoreName)) {
		t.Errorf("critical path %q: want %q, then %q, %q and %q in that order", order, slowName, callName, rateName, scoreName)
	}
	// The slow goroutine and taster's work lie on the path for (nearly) all their time.
	for name, min := range map[string]time.Duration{slowName: slowSleep, scoreName: rateSleep} {
		if got := time.Duration(critical[name] * float64(time.Microsecond)); got < min-5*time.Millisecond {
			t.Errorf("%q: %v on the critical path, want at least %v", name, got, min)
		}
	}
	if cp.Length > cp.Duration+1 {
		t.Errorf("critical path length %v µs exceeds the trace's duration %v µs", cp.Length, cp.Duration)
	}
}

func eventNamed(t *testing.T, s *trace.SpanData, name string) trace.Event {
	t.Helper()
	for _, e := range s.Events {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("%q has no %s event: %+v", s.Name, name, s.Events)
	return trace.Event{}
}

// ref is how weft's API writes a library event reference: nil when none, the trace ID only for another trace.
func ref(r trace.EventRef, own trace.TraceID) *weftapi.EventRef {
	if !r.IsValid() {
		return nil
	}
	out := &weftapi.EventRef{Unit: trace.UnitString(r.Unit), Seq: r.Seq}
	if r.TraceID != (trace.TraceID{}) && r.TraceID != own {
		out.TraceID = r.TraceID.String()
	}
	return out
}

func sameRef(a, b *weftapi.EventRef) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func refText(r *weftapi.EventRef) string {
	if r == nil {
		return "none"
	}
	if r.TraceID != "" {
		return r.TraceID + ":" + r.Unit + ":" + fmt.Sprint(r.Seq)
	}
	return r.Unit + ":" + fmt.Sprint(r.Seq)
}

func causalityText(c weftapi.Causality) string {
	s := fmt.Sprintf("unit %s seq %d..%d cause %s", c.Unit, c.StartSeq, c.EndSeq, refText(c.StartCause))
	if c.EndUnit != "" {
		s += " end unit " + c.EndUnit
	}
	return s
}
