package propagation

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/weftrace/weft/trace"
)

func TestCompositeExtractsFirstValid(t *testing.T) {
	w3c := "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01"
	b3 := "64fe8b2a57d3eff7-e457b5a2e4d86bd2-0"
	p := Composite{W3C{}, B3{}, W3CBaggage{}}
	tests := []struct {
		name      string
		h         http.Header
		wantSpan  string
		wantFails uint64
	}{
		{"first format wins", http.Header{"Traceparent": {w3c}, "B3": {b3}}, "e457b5a2e4d86bd1", 0},
		{"second when the first is absent", http.Header{"B3": {b3}}, "e457b5a2e4d86bd2", 0},
		{"second when the first is malformed", http.Header{"Traceparent": {"00-xyz"}, "B3": {b3}}, "e457b5a2e4d86bd2", 1},
		{"nothing valid starts a new trace", http.Header{"Traceparent": {"00-xyz"}, "B3": {"1-2-3"}}, "", 2},
		{"baggage is read whatever the span context", http.Header{"B3": {b3}, "Baggage": {"k=v"}}, "e457b5a2e4d86bd2", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ParseFailures().Total()
			ctx := p.Extract(context.Background(), HeaderCarrier(tt.h))
			sc := spanContextFromContext(ctx)
			got := ""
			if sc.IsValid() {
				got = sc.SpanID.String()
			}
			if got != tt.wantSpan {
				t.Errorf("span %q, want %q", got, tt.wantSpan)
			}
			if n := ParseFailures().Total() - before; n != tt.wantFails {
				t.Errorf("%d failures counted, want %d", n, tt.wantFails)
			}
			if _, ok := BaggageFromContext(ctx).Get("k"); ok != (tt.h.Get("Baggage") != "") {
				t.Errorf("baggage extracted: %v", ok)
			}
		})
	}
}

func TestCompositeInjectsAll(t *testing.T) {
	sc := trace.SpanContext{
		TraceID:  trace.TraceID{0x80, 0xf1, 0x98, 0xee, 0x56, 0x34, 0x3b, 0xa8, 0x64, 0xfe, 0x8b, 0x2a, 0x57, 0xd3, 0xef, 0xf7},
		SpanID:   trace.SpanID{0xe4, 0x57, 0xb5, 0xa2, 0xe4, 0xd8, 0x6b, 0xd1},
		Flags:    trace.FlagSampled,
		Priority: trace.PriorityUnset,
	}
	all := Composite{W3C{}, B3{}, B3Multi{}, Datadog{}, Jaeger{}}
	h := http.Header{}
	all.Inject(contextWithRemote(context.Background(), sc), HeaderCarrier(h))
	for _, f := range all.Fields() {
		if f == hB3ParentSpanID || f == hB3Flags || f == hDDOrigin || f == hTracestate {
			continue // written only when there is something to say
		}
		if h.Get(f) == "" {
			t.Errorf("%s not injected", f)
		}
	}
	// Each format alone extracts the same context from the combined headers.
	for _, p := range all {
		got := spanContextFromContext(p.Extract(context.Background(), HeaderCarrier(h)))
		if got.TraceID != sc.TraceID || got.SpanID != sc.SpanID || !got.IsSampled() {
			t.Errorf("%T extracted %+v", p, got)
		}
	}
}

func TestByName(t *testing.T) {
	for name, want := range map[string]Propagator{
		"tracecontext": W3C{}, "baggage": W3CBaggage{}, "b3": B3{}, "b3multi": B3Multi{}, "jaeger": Jaeger{}, "datadog": Datadog{},
	} {
		got, ok := ByName(name)
		if !ok || reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("ByName(%q) = %T, %v", name, got, ok)
		}
	}
	if _, ok := ByName("xray"); ok {
		t.Error("ByName accepted an unknown name")
	}
}

func TestHeaderCarrierCanonicalKeys(t *testing.T) {
	for _, k := range []string{hTraceparent, hTracestate, hBaggage, hB3, hB3TraceID, hB3SpanID, hB3ParentSpanID,
		hB3Sampled, hB3Flags, hDDTraceID, hDDParentID, hDDPriority, hDDOrigin, hDDTags, hJaeger, "x-other"} {
		h := http.Header{}
		HeaderCarrier(h).Set(k, "v")
		if h.Get(k) != "v" {
			t.Errorf("%s stored under a non-canonical key: %v", k, h)
		}
		if HeaderCarrier(h).Get(k) != "v" {
			t.Errorf("%s not found by the carrier", k)
		}
	}
}

// TestExtractAllocations keeps parsing allocation-free: the header values are read in place.
func TestExtractAllocations(t *testing.T) {
	h := HeaderCarrier(http.Header{
		"Traceparent":                 {"00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01"},
		"Tracestate":                  {"weft=0000000000a1b2c3:42,foo=1"},
		"B3":                          {"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"},
		"Uber-Trace-Id":               {"80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1"},
		"X-Datadog-Trace-Id":          {"1234567890123456789"},
		"X-Datadog-Parent-Id":         {"987654321"},
		"X-Datadog-Sampling-Priority": {"1"},
	})
	for _, p := range []spanContextExtractor{W3C{}, B3{}, Jaeger{}, Datadog{}} {
		if n := testing.AllocsPerRun(100, func() {
			if _, ok := p.extract(h); !ok {
				t.Fatalf("%T extracted nothing", p)
			}
		}); n != 0 {
			t.Errorf("%T: %v allocations per extract", p, n)
		}
	}
}

// TestInjectIntoUsedHeader: injecting again into the same header (a retried request) replaces what was there.
func TestInjectIntoUsedHeader(t *testing.T) {
	a := trace.SpanContext{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Flags: trace.FlagSampled, TraceState: "foo=1", Priority: trace.PriorityUnset}
	b := trace.SpanContext{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{2}, Priority: trace.PriorityUnset}
	h := http.Header{}
	W3C{}.Inject(contextWithRemote(context.Background(), a), HeaderCarrier(h))
	W3C{}.Inject(contextWithRemote(context.Background(), a), HeaderCarrier(h))
	if len(h["Traceparent"]) != 1 || h.Get("Tracestate") != "foo=1" {
		t.Fatalf("after two injects: %v", h)
	}
	W3C{}.Inject(contextWithRemote(context.Background(), b), HeaderCarrier(h))
	got := spanContextFromContext(W3C{}.Extract(context.Background(), HeaderCarrier(h)))
	if got.TraceID != b.TraceID || got.TraceState != "" || len(h["Traceparent"]) != 1 {
		t.Errorf("re-injected header %v extracts as %+v", h, got)
	}
}

// TestInjectDoesNotWriteThroughSharedValues: a header copied shallowly from another (as proxies do) shares its
// value slices; injecting into the copy must leave the original alone.
func TestInjectDoesNotWriteThroughSharedValues(t *testing.T) {
	in := http.Header{"Traceparent": {"00-11111111111111111111111111111111-1111111111111111-01"}, "Tracestate": {"a=1"}, "B3": {"x"}}
	out := http.Header{}
	for k, v := range in {
		out[k] = v
	}
	sc := trace.SpanContext{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{2}, Flags: trace.FlagSampled, TraceState: "b=2", Priority: trace.PriorityUnset}
	Composite{W3C{}, B3{}}.Inject(contextWithRemote(context.Background(), sc), HeaderCarrier(out))
	if in.Get("Traceparent") != "00-11111111111111111111111111111111-1111111111111111-01" || in.Get("Tracestate") != "a=1" || in.Get("B3") != "x" {
		t.Errorf("the original header was written through: %v", in)
	}
	if out.Get("Tracestate") != "b=2" {
		t.Errorf("copy not updated: %v", out)
	}
}
