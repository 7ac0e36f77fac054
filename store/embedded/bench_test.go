package embedded

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
)

// BenchmarkBlockWrite writes a block of 200,000 realistic spans (as a head cut does) and reports the write rate and
// the bytes per span of each section: pages (the spans), the term index, the trace table.
func BenchmarkBlockWrite(b *testing.B) {
	for _, better := range []bool{false, true} {
		name := "level=default"
		if better {
			name = "level=better"
		}
		b.Run(name, func(b *testing.B) {
			g := spangen.New(1, time.Now().UnixNano())
			h := newHead()
			h.write(g.Spans(200_000))
			var blk *block
			for b.Loop() {
				ids := h.sortedIDs()
				dict := sharedStrings(func(yield func([]*model.Span) bool) {
					for _, id := range ids {
						if !yield(h.trace(id)) {
							return
						}
					}
				})
				bw, err := newBlockWriter(filepath.Join(b.TempDir(), "1.blk"), better, dict)
				if err != nil {
					b.Fatal(err)
				}
				for _, id := range ids {
					bw.addTrace(h.trace(id))
				}
				if blk, err = bw.finish(0, 0); err != nil {
					b.Fatal(err)
				}
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
			b.ReportMetric(float64(blk.size)/n, "B/span")
			b.ReportMetric(float64(pages)/n, "pages-B/span")
			b.ReportMetric(float64(chunks)/n, "index-B/span")
			b.ReportMetric(float64(blk.meta.TraceLen)/n, "tracetable-B/span")
		})
	}
}
