package propagation

import (
	"context"
	"net/http"
	"testing"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/sample"
)

// TestDecisionOnlyStartsTrace checks what a sampling decision without IDs does to the next span: it starts a
// new trace, and a parent-based sampler follows the decision whatever its root sampler would say.
func TestDecisionOnlyStartsTrace(t *testing.T) {
	for _, c := range []struct {
		name    string
		sampler trace.Sampler
		headers http.Header
		sampled bool // the new span is recorded and its trace sampled
		b3      string
	}{
		{"b3 deny, default sampler", nil, http.Header{"B3": {"0"}}, false, "-0"},
		{"b3 deny, root always", sample.ParentBased(sample.Always()), http.Header{"B3": {"0"}}, false, "-0"},
		{"b3 accept, root never", sample.ParentBased(sample.Never()), http.Header{"B3": {"1"}}, true, "-1"},
		{"b3 debug, root never", sample.ParentBased(sample.Never()), http.Header{"B3": {"d"}}, true, "-d"},
		{"multi deny", nil, http.Header{"X-B3-Sampled": {"0"}}, false, "-0"},
		{"multi debug flag", sample.ParentBased(sample.Never()), http.Header{"X-B3-Flags": {"1"}}, true, "-d"},
		{"no decision, root never", sample.ParentBased(sample.Never()), http.Header{}, false, "-0"},
		{"no decision, default sampler", nil, http.Header{}, true, "-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := trace.NewProvider(trace.Config{Sampler: c.sampler})
			ctx := Composite{W3C{}, B3{}, B3Multi{}}.Extract(context.Background(), HeaderCarrier(c.headers))
			ctx, span := p.Tracer("t").Start(ctx, "server")
			defer span.End()
			if got := span != nil; got != c.sampled {
				t.Fatalf("recorded %v, want %v", got, c.sampled)
			}
			sc := trace.SpanContextFromContext(ctx)
			if !sc.IsValid() || sc.Remote || sc.IsSampled() != c.sampled {
				t.Fatalf("span context %+v: want a new local trace, sampled %v", sc, c.sampled)
			}
			if span != nil && span.SpanContext().TraceID != sc.TraceID {
				t.Errorf("span's trace %v, context's %v", span.SpanContext().TraceID, sc.TraceID)
			}
			// What goes downstream is the new trace with the decision.
			out := MapCarrier{}
			B3{}.Inject(ctx, out)
			if want := sc.TraceID.String() + "-" + sc.SpanID.String() + c.b3; out[hB3] != want {
				t.Errorf("b3 = %q, want %q", out[hB3], want)
			}
		})
	}
}

// TestDecisionOnlyComposite checks that a decision without IDs never displaces a valid context, whichever
// format comes first, and is used when no format has one.
func TestDecisionOnlyComposite(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	both := http.Header{"B3": {"0"}, "Traceparent": {tp}}
	for _, cp := range []Composite{{B3{}, W3C{}}, {W3C{}, B3{}}, {B3Multi{}, B3{}, W3C{}}} {
		sc := trace.SpanContextFromContext(cp.Extract(context.Background(), HeaderCarrier(both)))
		if !sc.IsValid() || sc.TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsSampled() {
			t.Errorf("%T...: extracted %+v, want the traceparent's context", cp[0], sc)
		}
	}
	only := http.Header{"B3": {"0"}, "X-B3-Sampled": {"1"}}
	sc := trace.SpanContextFromContext(Composite{W3C{}, B3{}, B3Multi{}}.Extract(context.Background(), HeaderCarrier(only)))
	if !sc.IsDecisionOnly() || sc.IsSampled() {
		t.Errorf("extracted %+v, want the first format's decision (not sampled)", sc)
	}
	// A decision-only context injects nothing in formats that cannot carry one.
	out := http.Header{}
	Composite{W3C{}, Datadog{}, Jaeger{}}.Inject(trace.ContextWithRemoteSpanContext(context.Background(), sc), HeaderCarrier(out))
	if len(out) != 0 {
		t.Errorf("injected %v from a decision without IDs", out)
	}
	// A span context that is invalid and not remote is no decision.
	if ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.SpanContext{}); trace.SpanContextFromContext(ctx).IsDecisionOnly() {
		t.Error("a zero span context became a decision")
	}
}
