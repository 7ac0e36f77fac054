package analyze

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
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
	runtime.GC() // the setup's garbage (generated traces, their scaffolding) is not the operation's to collect
	n, start := 0, cpuTime()
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n)/1e6, "cpu-ms/op")
}

// dropWorkspaces forgets every idle workspace, as after a long idle spell: the next call allocates its own. Not
// safe while analyses run.
func dropWorkspaces() {
	workspaces.kept = nil
	workspaces.pool = sync.Pool{New: workspaces.pool.New}
}

// BenchmarkCriticalPath is the critical path (with the clock estimate it needs) of one 100K-span trace over 5
// processes: weft spans on the event DAG ("causal"), and the same spans stripped of causality on the span tree
// ("heuristic"). The plain cases take the generator's spans, each allocated alone and shuffled; the "-store" cases
// take the spans as the embedded store hands them out for GET /api/weft/v1/traces/{id}/critical-path (written to it
// in order of their ends, as exporters send them, cut into a block and read back: one array, in that order). The
// calls reuse a workspace (see workspaces), as a server's calls do; the "-cold" cases drop the idle workspaces
// before every call, as for a server's first call.
func BenchmarkCriticalPath(b *testing.B) {
	for _, c := range []struct {
		name                 string
		foreign, cold, store bool
	}{
		{"causal-100K", false, false, false}, {"heuristic-100K", true, false, false},
		{"causal-100K-cold", false, true, false}, {"heuristic-100K-cold", true, true, false},
		{"causal-100K-store", false, false, true}, {"heuristic-100K-store", true, false, true},
		{"causal-100K-store-cold", false, true, true},
	} {
		spans := genTrace(1, 5, 100_000, 5000*us, c.foreign) // one trace live at a time: the collector's work is the same for every case
		if c.store {
			st, got := storedTrace(b, b.TempDir(), spans, 0)
			st.Close()
			spans = got
		}
		b.Run(c.name, func(b *testing.B) {
			if !c.cold {
				CriticalPath(spans, ChooseZero) // the server's first call, which allocates the workspace
			}
			loop(b, func() {
				if c.cold {
					dropWorkspaces()
				}
				if p := CriticalPath(spans, ChooseZero); !p.Complete {
					b.Fatal("incomplete")
				}
			})
			b.ReportMetric(float64(len(spans)), "spans")
		})
	}
}

// aggregateInput is traces of about spans spans each, made from shapes different simulated traces (half of them
// weft, half foreign) with every time scaled by a log-normal factor per trace, as a search's traces would be: a few
// shapes, many latencies.
func aggregateInput(traces, spans, shapes int) [][]*model.Span {
	templates := make([][]*model.Span, shapes)
	for i := range templates {
		templates[i] = genTrace(uint64(i+1), 3, spans, 0, i%2 == 0)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]*model.Span, traces)
	for i := range out {
		tpl := templates[i%shapes]
		f := math.Exp(rng.NormFloat64() * 0.3)
		base := tpl[0].Start
		for _, s := range tpl {
			base = min(base, s.Start)
		}
		copies := make([]model.Span, len(tpl))
		out[i] = make([]*model.Span, len(tpl))
		for j, s := range tpl {
			c := &copies[j]
			*c = *s
			binary.BigEndian.PutUint64(c.TraceID[:8], uint64(i+1))
			c.Start = base + int64(float64(s.Start-base)*f)
			c.Duration = int64(float64(s.Duration) * f)
			if len(s.Events) > 0 {
				c.Events = slices.Clone(s.Events)
				for k := range c.Events {
					c.Events[k].Time = base + int64(float64(s.Events[k].Time-base)*f)
				}
			}
			out[i][j] = c
		}
	}
	return out
}

// BenchmarkAggregate is the calling-context tree, flow graph and structure groups of 10K traces / 1M spans of
// 50 shapes; "unique" is the worst case, 1K traces / 100K spans that all differ in shape.
func BenchmarkAggregate(b *testing.B) {
	b.Run("10K-traces-1M-spans", func(b *testing.B) {
		traces := aggregateInput(10_000, 100, 50)
		b.ResetTimer()
		loop(b, func() { Aggregate(traces, Limits{}) })
		b.ReportMetric(float64(countSpans(traces)), "spans")
	})
	b.Run("unique-1K-traces-100K-spans", func(b *testing.B) {
		traces := aggregateInput(1000, 100, 1000)
		b.ResetTimer()
		loop(b, func() { Aggregate(traces, Limits{}) })
		b.ReportMetric(float64(countSpans(traces)), "spans")
	})
}

func countSpans(traces [][]*model.Span) int {
	n := 0
	for _, t := range traces {
		n += len(t)
	}
	return n
}

// BenchmarkComparePopulations merges and tests two aggregations of 5K traces each.
func BenchmarkComparePopulations(b *testing.B) {
	traces := aggregateInput(10_000, 100, 50)
	a, c := Aggregate(traces[:5000], Limits{Nodes: -1}), Aggregate(traces[5000:], Limits{Nodes: -1})
	b.ResetTimer()
	loop(b, func() { ComparePopulations(a, c, 0.1) })
}

// BenchmarkServices is the service graph and per-operation statistics of 10K traces / 1M spans.
func BenchmarkServices(b *testing.B) {
	traces := aggregateInput(10_000, 100, 50)
	b.Run("graph", func(b *testing.B) {
		loop(b, func() { Services(traces, 0, 0) })
	})
	b.Run("operations", func(b *testing.B) {
		loop(b, func() { Operations(traces, "pairing", "", 0, 0) })
	})
}
