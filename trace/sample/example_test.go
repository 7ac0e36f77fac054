package sample_test

import (
	"context"
	"fmt"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/sample"
)

// The usual production setup: follow the caller's decision; for new traces, per-route rules, then 10 %; and keep
// any slow or failed span of the traces left out.
func ExampleUnitary() {
	sampler := sample.Unitary(
		sample.ParentBased(sample.Rules([]sample.Rule{
			{Name: "pairing", Service: "matchmaker", Attrs: map[string]string{"http.route": "/pair/*"}, Reservoir: 5, Rate: 0.5},
			{Name: "health", SpanName: "GET /health*", Rate: 0},
		}, sample.Ratio(0.1))),
		500*time.Millisecond, true)
	p := trace.NewProvider(trace.Config{Sampler: sampler})
	defer p.Shutdown(context.Background())
	fmt.Println(sampler.Description())
	// Output: Unitary{ParentBased{root:Rules{pairing:5/s+0.5,health:0/s+0;fallback:TraceIDRatioBased{0.1}}},threshold:500ms,errors:true}
}

// Ratio decides by trace ID alone: every service keeps the same traces.
func ExampleRatio() {
	s := sample.Ratio(0.25)
	id := trace.TraceID{15: 1} // a low trace ID: inside the 25 %
	fmt.Println(s.ShouldSample(trace.SamplingParams{TraceID: id}).Decision)
	// Output: record_and_sample
}

func ExampleParentBased() {
	s := sample.ParentBased(sample.Always())
	parent := trace.SpanContext{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true, Priority: trace.PriorityUnset}
	fmt.Println(s.ShouldSample(trace.SamplingParams{Parent: parent}).Decision)
	// Output: drop
}

func ExampleRateLimit() {
	s := sample.RateLimit(2)
	for i := 0; i < 3; i++ {
		fmt.Println(s.ShouldSample(trace.SamplingParams{}).Decision)
	}
	// Output:
	// record_and_sample
	// record_and_sample
	// drop
}

func ExampleRules() {
	s := sample.Rules([]sample.Rule{
		{Name: "pairing", Attrs: map[string]string{"http.route": "/pair/*"}, Reservoir: 1, Rate: 0},
	}, sample.Never())
	p := trace.SamplingParams{Attrs: []trace.Attr{trace.String("http.route", "/pair/7")}}
	fmt.Println(s.ShouldSample(p).Decision, s.ShouldSample(p).Decision)
	// Output: record_and_sample drop
}

func ExampleAlways() {
	fmt.Println(sample.Always().ShouldSample(trace.SamplingParams{}).Decision)
	// Output: record_and_sample
}

func ExampleNever() {
	fmt.Println(sample.Never().ShouldSample(trace.SamplingParams{}).Decision)
	// Output: drop
}
