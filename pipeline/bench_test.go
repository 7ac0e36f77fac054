package pipeline

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store/embedded"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

// feeder hands out batches of about 1000 spans in whole traces: copies of pre-generated templates with fresh trace
// and span IDs, so producing load costs little next to what is measured (a receiver allocates spans too).
type feeder struct {
	templates [][]*model.Span
	next      atomic.Uint64
}

func newFeeder(seed uint64) *feeder {
	g := spangen.New(seed, time.Now().UnixNano())
	f := &feeder{}
	for i := 0; i < 32; i++ {
		f.templates = append(f.templates, g.Spans(1000))
	}
	return f
}

func (f *feeder) batch(rng *rand.Rand) []*model.Span {
	n := f.next.Add(1)
	tmpl := f.templates[n%uint64(len(f.templates))]
	out := make([]*model.Span, len(tmpl))
	slab := make([]model.Span, len(tmpl))
	var tid model.TraceID
	var prev model.TraceID
	var shift int64
	for i, s := range tmpl {
		if i == 0 || s.TraceID != prev {
			prev = s.TraceID
			shift = rng.Int64N(int64(time.Hour)) - int64(30*time.Minute) // fresh start times too
			tid = model.TraceID{}
			tid[0], tid[1] = byte(rng.Uint32()), byte(rng.Uint32())
			for j := 2; j < 16; j += 8 {
				v := rng.Uint64()
				for k := 0; k < 8 && j+k < 16; k++ {
					tid[j+k] = byte(v >> (8 * k))
				}
			}
		}
		slab[i] = *s
		slab[i].TraceID = tid
		slab[i].Start += shift
		slab[i].SpanID[0] ^= byte(n)
		if !slab[i].ParentID.IsZero() {
			slab[i].ParentID[0] ^= byte(n)
		}
		out[i] = &slab[i]
	}
	return out
}

// ingest pushes spans through the pipeline from workers goroutines until total spans are acknowledged.
func ingestSpans(tb testing.TB, p *Pipeline, f *feeder, total int64, workers int, sample func(model.TraceID)) (time.Duration, int64) {
	var done atomic.Int64
	var wg sync.WaitGroup
	var overloads atomic.Int64
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for done.Load() < total {
				b := f.batch(rng)
				for {
					err := p.Consume(ctx, b)
					if err == nil {
						break
					}
					if _, ok := err.(*ingest.OverloadError); ok {
						overloads.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					tb.Error(err)
					return
				}
				if sample != nil && rng.IntN(10) == 0 {
					sample(b[0].TraceID)
				}
				done.Add(int64(len(b)))
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), overloads.Load()
}

func benchSpans(def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv("WEFT_BENCH_SPANS"), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// cpuTime is the process's user+system CPU time so far: on a shared machine, spans per CPU second say more than
// spans per wall second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func peakRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}

// BenchmarkIngest measures durable ingest through pipeline, log and store (with head cuts and block writes, up to
// the last block written by Close), in spans per second and per CPU second. WEFT_BENCH_SPANS sets the spans per
// iteration (default 500,000); use several times MaxPendingSpans (600,000) to measure the sustained rate rather
// than how fast the head absorbs a burst.
func BenchmarkIngest(b *testing.B) {
	for _, policy := range []string{"always", "interval"} {
		b.Run("fsync="+policy, func(b *testing.B) {
			fsync := wal.FsyncAlways()
			if policy == "interval" {
				fsync = wal.FsyncInterval(100 * time.Millisecond)
			}
			f := newFeeder(1)
			total := benchSpans(500_000)
			var elapsed, cpu time.Duration
			for b.Loop() {
				dir := b.TempDir()
				st := open(b, dir, embedded.Options{CompactInterval: -1}, Options{}, fsync)
				c0, t0 := cpuTime(), time.Now()
				ingestSpans(b, st.p, f, total, 8, nil)
				st.p.Close() // writes the last head to a block: part of the cost
				cpu += cpuTime() - c0
				elapsed += time.Since(t0)
				st.s.Close()
			}
			b.ReportMetric(float64(total)*float64(b.N)/elapsed.Seconds(), "spans/s")
			b.ReportMetric(float64(total)*float64(b.N)/cpu.Seconds(), "spans/cpu-s")
		})
	}
}

// BenchmarkQueries fills a store with WEFT_BENCH_SPANS spans (default 300,000) through the pipeline, compacts it,
// and measures trace by ID, search by service+operation+duration and by one attribute value, reporting p50 and
// p99. With WEFT_BENCH_DIR set the store is kept there and reused by later runs.
func BenchmarkQueries(b *testing.B) {
	total := benchSpans(300_000)
	dir := os.Getenv("WEFT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	so := embedded.Options{CompactInterval: -1, CompactFanIn: 2, CompactSpans: 2_000_000}
	st := open(b, dir, so, Options{}, wal.FsyncInterval(100*time.Millisecond))
	defer st.s.Close()
	defer st.p.Close()
	var ids []model.TraceID
	if n, _ := st.s.Services(ctx); len(n) == 0 {
		var mu sync.Mutex
		c0 := cpuTime()
		d, over := ingestSpans(b, st.p, newFeeder(2), total, 8, func(id model.TraceID) {
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		})
		if err := st.p.Cut(); err != nil {
			b.Fatal(err)
		}
		tc := time.Now()
		// Two passes, as the background loop makes them: the second, with no head written since the first,
		// merges the heads' blocks the first left below the fan-in.
		for range 2 {
			if err := st.s.Compact(); err != nil {
				b.Fatal(err)
			}
		}
		blocks := dirSize(filepath.Join(dir, "blocks"))
		fmt.Fprintf(os.Stderr, "filled %d spans in %s (%.0f spans/s, %d overload answers); cut+compaction %s; cpu %s; blocks %d bytes = %.1f B/span; peak RSS %s\n",
			total, d.Round(time.Millisecond), float64(total)/d.Seconds(), over, time.Since(tc).Round(time.Millisecond),
			(cpuTime() - c0).Round(time.Millisecond), blocks, float64(blocks)/float64(total), peakRSS())
		os.WriteFile(filepath.Join(dir, "ids"), traceIDText(ids), 0o644)
	} else {
		raw, _ := os.ReadFile(filepath.Join(dir, "ids"))
		for _, l := range strings.Fields(string(raw)) {
			if id, err := model.ParseTraceID(l); err == nil {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		b.Fatal("no trace IDs sampled")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	run := func(b *testing.B, q func() error) {
		var lat []time.Duration
		c0 := cpuTime()
		for b.Loop() {
			t0 := time.Now()
			if err := q(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(len(lat)), "cpu-ms/op")
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("TraceByID", func(b *testing.B) {
		run(b, func() error {
			_, err := st.s.Trace(ctx, ids[rng.IntN(len(ids))])
			return err
		})
	})
	b.Run("ServiceOperationDuration", func(b *testing.B) {
		run(b, func() error {
			q := search.Query{Service: spangen.Services[rng.IntN(len(spangen.Services))],
				Operation: spangen.Operations[rng.IntN(len(spangen.Operations))], MinDuration: 150e6}
			r, err := st.s.FindTraces(ctx, q)
			if err == nil && len(r) == 0 {
				err = fmt.Errorf("no results for %+v", q)
			}
			return err
		})
	})
	b.Run("AttributeValue", func(b *testing.B) {
		run(b, func() error {
			e, err := search.Parse(fmt.Sprintf(`user.id = "user-%d"`, rng.IntN(10000)))
			if err != nil {
				return err
			}
			_, err = st.s.FindTraces(ctx, search.Query{Expr: e})
			return err
		})
	})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "after queries: heap in use %d MiB, sys %d MiB, peak RSS %s\n", ms.HeapInuse>>20, ms.Sys>>20, peakRSS())
}

func traceIDText(ids []model.TraceID) []byte {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(id.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
