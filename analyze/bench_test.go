package analyze

import (
	"syscall"
	"testing"

	"github.com/weftrace/weft/model"
)

// cpuTime is the CPU time this process has used (user and system), in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// loop runs f as the benchmark's body and reports, beside the wall time, the CPU time per operation: on a machine
// shared with other work the wall time measures the queue for the cores as much as the code.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	n, start := 0, cpuTime()
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n)/1e6, "cpu-ms/op")
}

// BenchmarkCriticalPath is the critical path (with the clock estimate it needs) of one 100K-span trace over 5
// processes: weft spans on the event DAG, and the same spans stripped of causality on the span tree.
func BenchmarkCriticalPath(b *testing.B) {
	for _, c := range []struct {
		name    string
		foreign bool
	}{{"causal-100K", false}, {"heuristic-100K", true}} {
		spans := genTrace(1, 5, 100_000, 5000*us, c.foreign)
		b.Run(c.name, func(b *testing.B) {
			loop(b, func() {
				if p := CriticalPath(spans, ChooseZero); !p.Complete {
					b.Fatal("incomplete")
				}
			})
			b.ReportMetric(float64(len(spans)), "spans")
		})
	}
}

// aggregateInput is 10K traces of about 100 spans each (1M spans).
func aggregateInput(traces, spans int) [][]*model.Span {
	out := make([][]*model.Span, traces)
	for i := range out {
		out[i] = genTrace(uint64(i+1), 3, spans, 0, i%2 == 0)
	}
	return out
}

// BenchmarkAggregate is the calling-context tree, flow graph and structure groups of 10K traces / 1M spans.
func BenchmarkAggregate(b *testing.B) {
	traces := aggregateInput(10_000, 100)
	n := 0
	for _, t := range traces {
		n += len(t)
	}
	b.ResetTimer()
	loop(b, func() { Aggregate(traces) })
	b.ReportMetric(float64(n), "spans")
}

// BenchmarkComparePopulations merges and tests two aggregations of 5K traces each.
func BenchmarkComparePopulations(b *testing.B) {
	traces := aggregateInput(10_000, 100)
	a, c := Aggregate(traces[:5000]), Aggregate(traces[5000:])
	b.ResetTimer()
	loop(b, func() { ComparePopulations(a, c, 0.1) })
}

// BenchmarkServices is the service graph and per-operation statistics of 10K traces / 1M spans.
func BenchmarkServices(b *testing.B) {
	traces := aggregateInput(10_000, 100)
	b.Run("graph", func(b *testing.B) {
		loop(b, func() { Services(traces, 0, 0) })
	})
	b.Run("operations", func(b *testing.B) {
		loop(b, func() { Operations(traces, "pairing", "", 0, 0) })
	})
}
