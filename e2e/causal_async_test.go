package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/weftrace/weft/trace"
)

// TestCausalEndOnForkedUnit ends a span on a goroutine started with trace.Go (an asynchronous callback: the span
// starts on the request's unit and its EndIn runs on the callback's unit, which records nothing else), joins that
// goroutine, and asks for the critical path.
//
// The span's end unit survives the whole chain (library, OTLP, receiver, store, API). The critical path does not
// (weft as of this commit): the join names the callback unit's only event, the span's end, and that event names
// no cause, because docs/causality.md gives a forked unit's link to its weft.fork only to the first *span started*
// on it (weft.cause of the span's start); a unit whose first event is an end (EndIn), a span event or a send has
// no way to name its fork on the wire. The walk stops there and answers complete=false without the work before
// the fork. Fixing it needs the format to carry the link (e.g. the fork event naming the unit it made, or a cause
// on the unit's first event of any kind) and the analysis to follow it.
func TestCausalEndOnForkedUnit(t *testing.T) {
	t.Parallel()
	w := startWeft(t)
	p, rec := libraryProvider(t, w, "matchmaker")
	tracer := p.Tracer("e2e/async")

	ctx, root := tracer.Start(context.Background(), "GET /notify", trace.WithKind(trace.KindServer))
	traceID := root.SpanContext().TraceID.String()
	_, prep := tracer.Start(ctx, "prepare")
	time.Sleep(20 * time.Millisecond)
	prep.End()
	_, async := tracer.Start(ctx, "notify async")
	trace.Go(ctx, func(ctx context.Context) {
		time.Sleep(30 * time.Millisecond)
		async.EndIn(ctx)
	}).Join()
	root.End()
	flush, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Shutdown(flush); err != nil {
		t.Fatalf("exporting: %v", err)
	}
	var lib *trace.SpanData
	for _, s := range rec.spans {
		if s.Name == "notify async" {
			lib = s
		}
	}
	if lib == nil || lib.EndUnit == 0 || lib.EndUnit == lib.Unit {
		t.Fatalf("the library recorded %+v, want a span that ended on another unit", lib)
	}

	tr := weftTrace(t, w, traceID, 3)
	for _, s := range tr.Spans {
		if s.Name != "notify async" {
			continue
		}
		if c := s.Causality; c == nil || c.Unit != trace.UnitString(lib.Unit) || c.EndUnit != trace.UnitString(lib.EndUnit) ||
			c.EndSeq != lib.EndSeq {
			t.Errorf("%q: causality %+v, want unit %s, end unit %s, end seq %d", s.Name, c, trace.UnitString(lib.Unit),
				trace.UnitString(lib.EndUnit), lib.EndSeq)
		}
	}

	var cp criticalPath
	if code := w.get(t, "/api/weft/v1/traces/"+traceID+"/critical-path", &cp); code != http.StatusOK {
		t.Fatalf("critical path: status %d", code)
	}
	var names []string
	for _, s := range cp.Segments {
		if len(names) == 0 || names[len(names)-1] != s.Name {
			names = append(names, s.Name)
		}
	}
	if cp.Method != "causal" || !cp.Complete {
		t.Errorf("critical path: method %q complete %v, want causal and complete; segments %q (the callback unit's "+
			"first event, the span's end, names no cause: see this test's comment)", cp.Method, cp.Complete, names)
	}
	if cp.Length < float64((45*time.Millisecond)/time.Microsecond) {
		t.Errorf("critical path covers %v µs of a trace of %v µs: %q; want the 20 ms of prepare and the 30 ms "+
			"of the callback", cp.Length, cp.Duration, names)
	}
}
