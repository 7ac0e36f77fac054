package jaeger

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
)

// benchBatch is a batch of 1,000 spans (100 traces of 10), each with 10 tags, as a jaeger-client HTTP sender
// posts them: the shape of the collector ingest benchmark.
func benchBatch() *jaegerthrift.Batch {
	b := &jaegerthrift.Batch{Process: &jaegerthrift.Process{
		ServiceName: "matchmaker",
		Tags:        []*jaegerthrift.Tag{strTag("hostname", "brewery-01"), strTag("jaeger.version", "Go-2.30.0")},
	}}
	for i := 0; i < 100; i++ {
		tid := int64(0x5eed0000_00000000) + int64(i)
		for j := 0; j < 10; j++ {
			s := &jaegerthrift.Span{
				TraceIdLow: tid, TraceIdHigh: 0x6763a5c4, SpanId: tid<<8 + int64(j) + 1,
				OperationName: fmt.Sprintf("HTTP GET /pair/%d", j%4), Flags: 1,
				StartTime: t0us + int64(j), Duration: 1500,
				Tags: []*jaegerthrift.Tag{
					strTag("span.kind", "server"), strTag("http.method", "GET"),
					strTag("http.url", fmt.Sprintf("/pair/%d?beer=stout&n=%d", j%4, i)), longTag("http.status_code", 200),
					strTag("component", "net/http"), strTag("peer.address", "10.0.0.9:51234"),
					boolTag("sampler.param", true), strTag("sampler.type", "probabilistic"),
					doubleTag("load", 0.42), strTag("user_agent", "Mozilla/5.0 (X11; Linux x86_64)"),
				},
			}
			if j > 0 {
				s.ParentSpanId = tid<<8 + 1
			}
			b.Spans = append(b.Spans, s)
		}
	}
	return b
}

// benchDecode decodes benchBatch over and over as the handler does, releasing the spans (reuse: each request into
// the memory of the one before, as for the pipeline in front of the embedded store) or not (every request in new
// memory, as for a consumer that keeps the spans), and reports spans per second of time and of CPU (garbage
// collection included).
func benchDecode(b *testing.B, compact, reuse bool) {
	body := encode(b, benchBatch(), compact)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		d := newDecoder(body, compact, nil)
		spans, err := d.decode()
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

func BenchmarkDecodeBinary(b *testing.B)      { benchDecode(b, false, true) }
func BenchmarkDecodeCompact(b *testing.B)     { benchDecode(b, true, true) }
func BenchmarkDecodeBinaryKept(b *testing.B)  { benchDecode(b, false, false) }
func BenchmarkDecodeCompactKept(b *testing.B) { benchDecode(b, true, false) }

// cpuTime is the CPU time this process has used, user and system. Spans per CPU-second is a steadier figure than
// spans per wall-second on a machine shared with other work, and it is the per-core rate peers publish.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
