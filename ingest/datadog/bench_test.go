package datadog

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
)

// benchTraces are 100 traces of 10 spans, each span with 10 meta entries and 3 metrics, as a busy web service
// sends them: the shape of the collector ingest benchmark.
func benchTraces() [][]ddSpan {
	traces := make([][]ddSpan, 100)
	for i := range traces {
		tid := uint64(0x5eed0000_00000000) + uint64(i)
		for j := 0; j < 10; j++ {
			s := ddSpan{
				Service: "matchmaker", Name: "http.request", Resource: fmt.Sprintf("GET /pair/%d", j%4), Type: "web",
				TraceID: tid, SpanID: tid<<8 + uint64(j) + 1, Start: t0 + int64(j)*1000, Duration: 1_500_000,
				Meta: map[string]string{
					"_dd.p.tid": "6763a5c400000000", "env": "prod", "version": "1.4.2", "span.kind": "server",
					"http.method": "GET", "http.url": fmt.Sprintf("/pair/%d?beer=stout&n=%d", j%4, i),
					"http.status_code": "200", "http.useragent": "Mozilla/5.0 (X11; Linux x86_64)",
					"component": "net/http", "runtime-id": "4f3c2b1a-0000-4000-8000-000000000001",
				},
				Metrics: map[string]float64{"_sampling_priority_v1": 1, "_dd.top_level": 1, "process_id": 4242},
			}
			if j > 0 {
				s.ParentID = tid<<8 + 1
			}
			traces[i] = append(traces[i], s)
		}
	}
	return traces
}

// BenchmarkDecodeV04 decodes as the handler does for a consumer that lets go of the spans (the pipeline in front
// of the embedded store): each request into the memory of the one before, taken back by release.
func BenchmarkDecodeV04(b *testing.B) {
	benchDecode(b, encodeV04(b, benchTraces()), (*builder).decodeV04, true)
}

// BenchmarkDecodeV04Kept is BenchmarkDecodeV04 for a consumer that keeps the spans: every request in new memory.
func BenchmarkDecodeV04Kept(b *testing.B) {
	benchDecode(b, encodeV04(b, benchTraces()), (*builder).decodeV04, false)
}

// BenchmarkDecodeV05 is BenchmarkDecodeV04 for /v0.5.
func BenchmarkDecodeV05(b *testing.B) {
	benchDecode(b, encodeV05(b, benchTraces()), (*builder).decodeV05, true)
}

// BenchmarkDecodeV05Kept is BenchmarkDecodeV04Kept for /v0.5.
func BenchmarkDecodeV05Kept(b *testing.B) {
	benchDecode(b, encodeV05(b, benchTraces()), (*builder).decodeV05, false)
}

// benchDecode decodes body with decode over and over, releasing the spans (reuse) or not, and reports spans per
// second of time and of CPU (garbage collection included).
func benchDecode(b *testing.B, body []byte, decode func(*builder, []byte) ([]*model.Span, error), reuse bool) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		d := newBuilder(goldenHeader, nil)
		spans, err := decode(d, body)
		if err != nil {
			b.Fatal(err)
		}
		n += len(spans)
		d.release(reuse)
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "spans/s")
	if cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "spans/cpu-s")
	}
}

// cpuTime is the CPU time this process has used, user and system. Spans per CPU-second is a steadier figure than
// spans per wall-second on a machine shared with other work, and it is the per-core rate peers publish.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
