package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
)

// TestDDTraceGo sends the trace with Datadog's Go tracer, dd-trace-go v2, to weft's Datadog agent port and reads it
// back through the Jaeger, Zipkin and weft APIs. Datadog spans have a name and a resource, string tags (meta) and
// number tags (metrics, float64), their own service each, and 64-bit span IDs in a 128-bit trace.
//
// dd-trace-go's tracer is global, so this test does not run in parallel with another using it.
func TestDDTraceGo(t *testing.T) {
	t.Setenv("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
	t.Setenv("DD_REMOTE_CONFIGURATION_ENABLED", "false")
	t.Setenv("DD_TRACE_STARTUP_LOGS", "false")
	t.Setenv("DD_RUNTIME_METRICS_ENABLED", "false")
	w := startWeft(t)
	const service = "cafe-datadog"
	err := tracer.Start(tracer.WithAgentAddr(w.addr(t, "datadog")), tracer.WithService(service),
		tracer.WithEnv("e2e"), tracer.WithServiceVersion("1.2.3"), tracer.WithLogStartup(false))
	need(t, err, "dd-trace-go tracer")

	base := traceStart()
	root := tracer.StartSpan(rootName, tracer.StartTime(base), tracer.ResourceName("GET /commande"),
		tracer.SpanType(ext.SpanTypeWeb), tracer.Tag(ext.SpanKind, ext.SpanKindServer),
		tracer.Tag("boisson", "café crème"), tracer.Tag("bière", "stout"), tracer.Tag("table", 7), tracer.Tag("montant", 4.5))
	root.AddEvent("commande reçue", tracer.WithSpanEventTimestamp(base.Add(time.Millisecond)),
		tracer.WithSpanEventAttributes(map[string]any{"tasses": 2}))
	grind := tracer.StartSpan(grindName, tracer.ChildOf(root.Context()), tracer.StartTime(base.Add(5*time.Millisecond)))
	grind.Finish(tracer.FinishTime(base.Add(5*time.Millisecond + grindLength)))
	pay := tracer.StartSpan(payName, tracer.ChildOf(root.Context()), tracer.StartTime(base.Add(40*time.Millisecond)),
		tracer.ServiceName("banque"), tracer.ResourceName("POST /debit"), tracer.SpanType(ext.SpanTypeHTTP),
		tracer.Tag(ext.SpanKind, ext.SpanKindClient))
	pay.Finish(tracer.FinishTime(base.Add(40*time.Millisecond+payLength)), tracer.WithError(errors.New(payError)))
	root.Finish(tracer.FinishTime(base.Add(rootLength)))
	traceID, rootID, payID := root.Context().TraceID(), root.Context().SpanID(), pay.Context().SpanID()
	tracer.Flush()
	tracer.Stop()
	if len(traceID) != 32 || traceID[:16] == "0000000000000000" {
		t.Fatalf("dd-trace-go made trace ID %q; the test wants 128 bits", traceID)
	}

	want := wantTrace{traceID: traceID, service: service, spans: []wantSpan{
		{name: rootName, kind: "server", duration: rootLength,
			jaeger: []jaegerKV{{"boisson", "string", "café crème"}, {"table", "float64", 7.0}, {"montant", "float64", 4.5},
				{"bière", "string", "stout"}},
			zipkin: map[string]string{"bière": "stout", "boisson": "café crème", "table": "7", "montant": "4.5"},
			events: []string{"commande reçue"}},
		{name: grindName, parent: rootName, duration: grindLength},
		{name: payName, parent: rootName, service: "banque", kind: "client", duration: payLength, errMsg: payError},
	}}
	checkJaeger(t, w, want)
	checkZipkin(t, w, want)
	checkWeftTrace(t, w, want)

	// What the Datadog receiver keeps that only weft's API shows: span IDs, resources, types, and the tracer's
	// env, version and language as resource attributes.
	tr := weftTrace(t, w, traceID, 3)
	for _, s := range tr.Spans {
		var wantID, wantResource, wantType string
		switch s.Name {
		case rootName:
			wantID, wantResource, wantType = uint64Hex(rootID), "GET /commande", "web"
		case payName:
			wantID, wantResource, wantType = uint64Hex(payID), "POST /debit", "http"
		default:
			continue
		}
		if s.SpanID != wantID || s.SpanResource != wantResource || s.SpanType != wantType {
			t.Errorf("%q: span ID %s, resource %q, type %q; want %s, %q, %q", s.Name, s.SpanID, s.SpanResource,
				s.SpanType, wantID, wantResource, wantType)
		}
		res := tr.Resources[s.Resource].Attributes
		want := map[string]string{"deployment.environment.name": "e2e", "telemetry.sdk.language": "go"}
		if s.Name == rootName {
			want["service.version"] = "1.2.3" // dd-trace-go writes the version on the main service's spans only
		}
		for k, v := range want {
			if !hasAttr(res, k, v) && !hasAttr(s.Attributes, k, v) {
				t.Errorf("%q: no %s=%s among resource attributes %+v or span attributes", s.Name, k, v, res)
			}
		}
	}
}

func uint64Hex(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[:])
}
