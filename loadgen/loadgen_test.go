package loadgen

import (
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestBatchShape(t *testing.T) {
	for _, n := range []int{1, 100, 1000} {
		body, spans, err := Batch(3, n)
		if err != nil {
			t.Fatal(err)
		}
		req := &collectorpb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			t.Fatal(err)
		}
		got := 0
		traces := map[string]int{}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					got++
					traces[string(s.TraceId)]++
					if len(s.Attributes) != 10 {
						t.Errorf("span with %d attributes, want 10", len(s.Attributes))
					}
				}
			}
		}
		if got != spans || spans < n || spans >= n+50 {
			t.Errorf("Batch(%d): %d spans decoded, %d reported", n, got, spans)
		}
		for id, c := range traces {
			if c < 5 || c > 50 {
				t.Errorf("trace %x has %d spans, want 5 to 50", id, c)
			}
		}
	}
}
