package propagation_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

// remote is a context as if extracted from an incoming request, so that the examples print fixed IDs.
func remote() context.Context {
	sc, _ := propagation.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return trace.ContextWithRemoteSpanContext(context.Background(), sc)
}

// An HTTP client injects the current span's context into the request's headers; the server extracts it and
// starts its span as a child.
func ExampleW3C() {
	out := http.Header{}
	propagation.W3C{}.Inject(remote(), propagation.HeaderCarrier(out))
	fmt.Println(out.Get("traceparent"))

	ctx := propagation.W3C{}.Extract(context.Background(), propagation.HeaderCarrier(out))
	fmt.Println(trace.SpanContextFromContext(ctx).TraceID)
	// Output:
	// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// 4bf92f3577b34da6a3ce929d0e0e4736
}

// A Composite speaks several formats at once: it writes all of them and reads the first that is valid.
func ExampleComposite() {
	p := propagation.Composite{propagation.W3C{}, propagation.B3{}, propagation.Datadog{}}
	out := http.Header{}
	p.Inject(remote(), propagation.HeaderCarrier(out))
	fmt.Println(out.Get("b3"))
	fmt.Println(out.Get("x-datadog-trace-id"), out.Get("x-datadog-tags"))

	in := http.Header{"Traceparent": {"garbage"}, "B3": {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"}}
	sc := trace.SpanContextFromContext(p.Extract(context.Background(), propagation.HeaderCarrier(in)))
	fmt.Println(sc.SpanID, sc.IsSampled())
	// Output:
	// 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1
	// 11803532876627986230 _dd.p.tid=4bf92f3577b34da6
	// 00f067aa0ba902b7 true
}

func ExampleB3() {
	h := http.Header{"B3": {"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"}}
	sc := trace.SpanContextFromContext(propagation.B3{}.Extract(context.Background(), propagation.HeaderCarrier(h)))
	fmt.Println(sc.TraceID, sc.IsSampled(), sc.Priority)
	// Output: 80f198ee56343ba864fe8b2a57d3eff7 true 2
}

func ExampleB3Multi() {
	out := http.Header{}
	propagation.B3Multi{}.Inject(remote(), propagation.HeaderCarrier(out))
	fmt.Println(out.Get("X-B3-TraceId"), out.Get("X-B3-SpanId"), out.Get("X-B3-Sampled"))
	// Output: 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 1
}

func ExampleDatadog() {
	h := http.Header{
		"X-Datadog-Trace-Id":          {"1234567890123456789"},
		"X-Datadog-Parent-Id":         {"987654321"},
		"X-Datadog-Sampling-Priority": {"2"},
		"X-Datadog-Origin":            {"synthetics"},
	}
	sc := trace.SpanContextFromContext(propagation.Datadog{}.Extract(context.Background(), propagation.HeaderCarrier(h)))
	fmt.Println(sc.TraceID, sc.SpanID, sc.Priority, sc.Origin)
	// Output: 0000000000000000112210f47de98115 000000003ade68b1 2 synthetics
}

func ExampleJaeger() {
	out := propagation.MapCarrier{}
	propagation.Jaeger{}.Inject(remote(), out)
	fmt.Println(out["uber-trace-id"])
	// Output: 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1
}

func ExampleW3CBaggage() {
	var b propagation.Baggage
	b, _ = b.Set("user.tier", "gold")
	ctx := propagation.ContextWithBaggage(context.Background(), b)

	out := http.Header{}
	propagation.W3CBaggage{}.Inject(ctx, propagation.HeaderCarrier(out))
	fmt.Println(out.Get("baggage"))

	got := propagation.BaggageFromContext(propagation.W3CBaggage{}.Extract(context.Background(), propagation.HeaderCarrier(out)))
	v, _ := got.Get("user.tier")
	fmt.Println(v)
	// Output:
	// user.tier=gold
	// gold
}

func ExampleParseBaggage() {
	b, err := propagation.ParseBaggage("userId=alice,serverNode=DF%2028;ttl=30")
	if err != nil {
		panic(err)
	}
	for _, m := range b.Members() {
		fmt.Printf("%s=%q [%s]\n", m.Key, m.Value, m.Properties)
	}
	// Output:
	// userId="alice" []
	// serverNode="DF 28" [ttl=30]
}

// A malformed header is ignored and counted; the request starts a new trace.
func ExampleParseFailures() {
	before := propagation.ParseFailures()
	h := http.Header{"Traceparent": {"00-not-a-trace-01"}}
	ctx := propagation.W3C{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	fmt.Println(trace.SpanContextFromContext(ctx).IsValid())
	fmt.Println(propagation.ParseFailures().Traceparent - before.Traceparent)
	// Output:
	// false
	// 1
}

func ExampleParseTraceparent() {
	sc, err := propagation.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	fmt.Println(sc.TraceID, sc.SpanID, sc.IsSampled(), err)
	_, err = propagation.ParseTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	fmt.Println(err)
	// Output:
	// 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 true <nil>
	// propagation: malformed traceparent "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01": version ff is invalid
}

func ExampleByName() {
	var p propagation.Composite
	for _, name := range []string{"tracecontext", "baggage", "b3"} {
		if q, ok := propagation.ByName(name); ok {
			p = append(p, q)
		}
	}
	fmt.Println(p.Fields())
	// Output: [traceparent tracestate baggage b3]
}

func ExampleHeaderCarrier() {
	req, _ := http.NewRequest("GET", "http://127.0.0.1/", nil)
	propagation.Default().Inject(remote(), propagation.HeaderCarrier(req.Header))
	fmt.Println(req.Header.Get("Traceparent"))
	// Output: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}

func ExampleDefault() {
	fmt.Println(propagation.Default().Fields())
	// Output: [traceparent tracestate baggage]
}

func ExampleMapCarrier() {
	msg := propagation.MapCarrier{} // message metadata, exact keys
	propagation.W3C{}.Inject(remote(), msg)
	fmt.Println(msg["traceparent"])
	// Output: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}

func ExampleValidateTracestate() {
	fmt.Println(propagation.ValidateTracestate("weft=3d3899d57e98f17f:12,congo=t61rcWkgMzE"))
	fmt.Println(propagation.ValidateTracestate("foo=1,foo=2"))
	// Output:
	// <nil>
	// propagation: malformed tracestate "foo=1,foo=2": key "foo" appears twice
}

func ExampleAppendTraceparent() {
	sc := trace.SpanContextFromContext(remote())
	fmt.Println(string(propagation.AppendTraceparent(nil, sc)))
	// Output: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}

func ExampleParseB3() {
	sc, err := propagation.ParseB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-1")
	fmt.Println(sc.TraceID, sc.SpanID, sc.IsSampled(), err)
	// Output: 000000000000000064fe8b2a57d3eff7 e457b5a2e4d86bd1 true <nil>
}

func ExampleAppendB3() {
	fmt.Println(string(propagation.AppendB3(nil, trace.SpanContextFromContext(remote()))))
	// Output: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1
}

func ExampleParseJaeger() {
	sc, err := propagation.ParseJaeger("abc:def:0:3")
	fmt.Println(sc.TraceID, sc.SpanID, sc.Priority, err)
	// Output: 00000000000000000000000000000abc 0000000000000def 2 <nil>
}

func ExampleAppendJaeger() {
	fmt.Println(string(propagation.AppendJaeger(nil, trace.SpanContextFromContext(remote()))))
	// Output: 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1
}

func ExampleBaggage_Set() {
	var b propagation.Baggage
	b, _ = b.Set("user", "alice smith")
	b, _ = b.Set("tier", "gold")
	fmt.Println(b.String(), b.Len())
	fmt.Println(b.Delete("user").String())
	// Output:
	// user=alice%20smith,tier=gold 2
	// tier=gold
}

func ExampleJaegerBaggage() {
	// A Jaeger client sent its baggage as uberctx-* headers; a weft service reads it into its Baggage and
	// passes it on in both formats.
	in := http.Header{"Uberctx-User": {"alice"}, "Uberctx-Query": {"a%3Db+c"}}
	ctx := propagation.JaegerBaggage{}.Extract(context.Background(), propagation.HeaderCarrier(in))
	b := propagation.BaggageFromContext(ctx)
	fmt.Println(b.Get("query"))

	out := http.Header{}
	propagation.Composite{propagation.W3CBaggage{}, propagation.JaegerBaggage{}}.Inject(ctx, propagation.HeaderCarrier(out))
	fmt.Println(out.Get("baggage"))
	fmt.Println(out.Get("uberctx-query"))
	// Output:
	// a=b c true
	// query=a=b%20c,user=alice
	// a%3Db+c
}

func ExampleB3_decisionOnly() {
	// "b3: 0" alone: the caller decided not to sample, without sending IDs.
	ctx := propagation.B3{}.Extract(context.Background(), propagation.MapCarrier{"b3": "0"})
	sc := trace.SpanContextFromContext(ctx)
	fmt.Println(sc.IsValid(), sc.IsDecisionOnly(), sc.IsSampled())
	// Output:
	// false true false
}
