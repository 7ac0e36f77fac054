package embedded

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

// BenchmarkBlockWrite writes a block of 200,000 realistic spans (as a head cut does, from log records of 1,000
// spans) and reports the write rate, the CPU per span, and the bytes per span of each section: pages (the
// spans), the term index, the trace table. level=better is the zstd level of compaction.
func BenchmarkBlockWrite(b *testing.B) {
	for _, better := range []bool{false, true} {
		name := "level=default"
		if better {
			name = "level=better"
		}
		b.Run(name, func(b *testing.B) {
			g := spangen.New(1, time.Now().UnixNano())
			h := newHead()
			spans := g.Spans(200_000)
			for i := 0; i < len(spans); i += 1000 {
				batch := spans[i:min(i+1000, len(spans))]
				h.write(batch, wal.Encode(batch))
			}
			var blk *block
			c0 := cpuTime()
			for b.Loop() {
				bw, err := writeBlockLevel(filepath.Join(b.TempDir(), "1.blk"), h, better)
				if err != nil {
					b.Fatal(err)
				}
				blk = bw
				blk.release()
			}
			n := float64(blk.meta.Spans)
			var pages, chunks int64
			for _, p := range blk.meta.Pages {
				pages += p[1]
			}
			for _, c := range blk.meta.Chunks {
				chunks += c.Len
			}
			b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/1000/n/float64(b.N), "cpu-µs/span")
			b.ReportMetric(float64(blk.size)/n, "B/span")
			b.ReportMetric(float64(pages)/n, "pages-B/span")
			b.ReportMetric(float64(chunks)/n, "index-B/span")
			b.ReportMetric(float64(blk.meta.TraceLen)/n, "tracetable-B/span")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
