package embedded

import (
	"github.com/weftrace/weft/search"

	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

// BenchmarkBlockWrite writes a block of 200,000 realistic spans (as a head cut does, from log records of 1,000
// spans) and reports the write rate, the CPU per span, and the bytes per span of each section: pages (the
// spans), the term index, the trace table. level=better is the zstd level of compaction.
func BenchmarkBlockWrite(b *testing.B) {
	for _, tc := range []struct {
		name              string
		better, byService bool
		spans, parts      int
	}{{"level=default", false, false, 200_000, 1}, {"level=better", true, false, 200_000, 1},
		{"level=default/byservice", false, true, 200_000, 1},
		// weft serve's heads: a quarter of its 200,000 pending spans, as one block and as two written at once
		{"level=default/byservice/spans=50000", false, true, 50_000, 1},
		{"level=default/byservice/spans=50000/parts=2", false, true, 50_000, 2}} {
		better := tc.better
		b.Run(tc.name, func(b *testing.B) {
			h := benchHead(tc.spans, tc.byService)
			var blks []*block
			c0 := cpuTime()
			for b.Loop() {
				dir := b.TempDir()
				paths := make([]string, max(tc.parts, 1))
				for i := range paths {
					paths[i] = filepath.Join(dir, fmt.Sprintf("%d.blk", i+1))
				}
				bs, err := writeHeadBlocks(paths, h, better, nil)
				if err != nil {
					b.Fatal(err)
				}
				blks = bs
				for _, blk := range bs {
					blk.release()
				}
			}
			var n float64
			var size, pages, chunks, table int64
			for _, blk := range blks {
				n += float64(blk.meta.Spans)
				size += blk.size
				table += blk.meta.TraceLen
				for _, p := range blk.meta.Pages {
					pages += p[1]
				}
				for _, c := range blk.meta.Chunks {
					chunks += c.Len
				}
			}
			b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/1000/n/float64(b.N), "cpu-µs/span")
			b.ReportMetric(float64(size)/n, "B/span")
			b.ReportMetric(float64(pages)/n, "pages-B/span")
			b.ReportMetric(float64(chunks)/n, "index-B/span")
			b.ReportMetric(float64(table)/n, "tracetable-B/span")
		})
	}
}

// benchHead is a head of n spans written in records of 1,000. byService groups each record's spans by
// service, as the load generator's requests (and OTLP exporters) do: a trace then comes in runs of a span or
// two rather than whole.
func benchHead(n int, byService bool) *head {
	g := spangen.New(1, time.Now().UnixNano())
	h := newHead()
	spans := g.Spans(n)
	for i := 0; i < len(spans); i += 1000 {
		batch := spans[i:min(i+1000, len(spans))]
		if byService {
			slices.SortStableFunc(batch, func(a, b *model.Span) int { return strings.Compare(a.Service(), b.Service()) })
		}
		h.write(batch, wal.Encode(batch))
	}
	return h
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCompact merges blocks written as head cuts are into one: four of 200,000 spans (heads), and 32 of
// 25,000 (the parts of heads written one block per processor, as compaction's first level finds them). In
// split=1, every third trace of a head has half its spans in the next head, as traces cut by a head cut have:
// compaction joins their parts and finds their dependency edges again. It reports the CPU per span of the merge
// and the bytes per span before and after.
func BenchmarkCompact(b *testing.B) {
	for _, in := range []struct {
		blocks, spans int
		split         bool
	}{{4, 200_000, false}, {32, 25_000, false}, {4, 200_000, true}} {
		name := fmt.Sprintf("blocks=%d", in.blocks)
		if in.split {
			name += "/split=1"
		}
		b.Run(name, func(b *testing.B) { benchmarkCompact(b, in.blocks, in.spans, in.split) })
	}
}

func benchmarkCompact(b *testing.B, blocks, blockSpans int, split bool) {
	g := spangen.New(2, time.Now().UnixNano())
	dir := b.TempDir()
	s, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1, CompactFanIn: 4, CompactSpans: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	heads := make([][]*model.Span, blocks)
	for i := range heads {
		heads[i] = g.Spans(blockSpans)
	}
	if split {
		for i := 1; i < blocks; i++ {
			kept := heads[i-1][:0]
			for k, sp := range heads[i-1] {
				if sp.TraceID[0]%3 == 0 && k%2 == 1 {
					heads[i] = append(heads[i], sp)
				} else {
					kept = append(kept, sp)
				}
			}
			heads[i-1] = kept
		}
	}
	var paths []string
	var before int64
	for _, spans := range heads {
		h := newHead()
		for i := 0; i < len(spans); i += 1000 {
			batch := spans[i:min(i+1000, len(spans))]
			h.write(batch, wal.Encode(batch))
		}
		blk, err := writeBlock(filepath.Join(b.TempDir(), "src.blk"), h)
		if err != nil {
			b.Fatal(err)
		}
		paths = append(paths, blk.path)
		before += blk.size
		blk.release()
	}
	benchmarkMerge(b, s, paths, before)
}

// BenchmarkLargeTrace reads one trace of 100,000 spans by ID (the UI's big-trace case), from the head and from a
// block (decoded each time, or through the cache of large traces), and reports the CPU per read.
func BenchmarkLargeTrace(b *testing.B) {
	g := spangen.New(3, time.Now().UnixNano())
	tid := g.TraceID()
	var spans []*model.Span
	for len(spans) < 100_000 {
		for _, s := range g.Trace() {
			s.TraceID = tid
			if len(spans) > 0 && s.ParentID.IsZero() {
				s.ParentID = spans[0].SpanID
			}
			spans = append(spans, s)
		}
	}
	s, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < len(spans); i += 1000 {
		if err := s.Write(ctx, spans[i:min(i+1000, len(spans))]); err != nil {
			b.Fatal(err)
		}
	}
	read := func(b *testing.B) {
		c0 := cpuTime()
		for b.Loop() {
			got, err := s.Trace(ctx, tid)
			if err != nil || len(got) != len(spans) {
				b.Fatalf("%d spans, %v", len(got), err)
			}
		}
		b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/read")
	}
	b.Run("head", read)
	s.Seal(1)
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	cache := s.traces
	s.traces = newTraceCache(0)
	b.Run("block/uncached", read)
	s.traces = cache
	b.Run("block/cached", read) // all reads but the first come from the trace cache
}

// BenchmarkDependencies asks for the service graph of the last 5 minutes, and of all time, of the store in
// WEFT_BENCH_DIR/blocks (a store filled by the pipeline's BenchmarkQueries), and reports the CPU per call.
func BenchmarkDependencies(b *testing.B) {
	dir := os.Getenv("WEFT_BENCH_DIR")
	if dir == "" {
		b.Skip("WEFT_BENCH_DIR is not set")
	}
	s, err := Open(filepath.Join(dir, "blocks"), Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var end int64
	for _, blk := range s.blocks {
		end = max(end, blk.meta.MaxStart)
	}
	for _, w := range []struct {
		name       string
		start, end int64
	}{{"5m", end - int64(5*time.Minute), end}, {"all", 0, 0}} {
		b.Run(w.name, func(b *testing.B) {
			c0 := cpuTime()
			var edges int
			for b.Loop() {
				deps, err := s.Dependencies(ctx, w.start, w.end)
				if err != nil {
					b.Fatal(err)
				}
				edges = len(deps)
			}
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(edges), "edges")
		})
	}
}

// BenchmarkHeadSearch searches a head of 50,000 spans (weft serve's head at saturation), each search after one
// more record was written (the view extended by it), and reports the first search apart: it decodes the head.
func BenchmarkHeadSearch(b *testing.B) {
	g := spangen.New(3, time.Now().UnixNano())
	spans := g.Spans(51_000)
	s, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1, BlockSpans: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 50_000; i += 1000 {
		batch := spans[i : i+1000]
		s.WriteRecord(ctx, batch, wal.Encode(batch))
	}
	q := search.Query{Service: spans[0].Service(), Operation: spans[0].Name, MinDuration: 1, Limit: 20}
	t0 := time.Now()
	if _, err := s.FindTraces(ctx, q); err != nil {
		b.Fatal(err)
	}
	first := time.Since(t0)
	i := 50_000
	for b.Loop() {
		batch := spans[i : i+10]
		if i += 10; i+10 > len(spans) {
			i = 50_000
		}
		s.WriteRecord(ctx, batch, wal.Encode(batch))
		if _, err := s.FindTraces(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
}
