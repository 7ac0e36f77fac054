package analyze

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded"
)

// storedTrace writes spans to an embedded store in dir as an exporter would send them (in order of their ends, in
// batches of 512), cuts the store's head into a block, and returns the store and the trace as the store hands it
// out: what GET /api/weft/v1/traces/{id}/critical-path passes to CriticalPath. traceCache is the store's
// TraceCacheSpans (negative: every read decodes the trace from its block).
func storedTrace(tb testing.TB, dir string, spans []*model.Span, traceCache int) (*embedded.Store, []*model.Span) {
	tb.Helper()
	st, err := embedded.Open(dir, embedded.Options{CompactInterval: -1, Retention: 100 * 365 * 24 * time.Hour, TraceCacheSpans: traceCache})
	if err != nil {
		tb.Fatal(err)
	}
	sent := slices.Clone(spans)
	slices.SortStableFunc(sent, func(a, b *model.Span) int { return cmp.Compare(a.End(), b.End()) })
	for len(sent) > 0 {
		n := min(512, len(sent))
		if err := st.Write(context.Background(), sent[:n]); err != nil {
			tb.Fatal(err)
		}
		sent = sent[n:]
	}
	st.Seal(0)
	if err := st.Flush(); err != nil {
		tb.Fatal(err)
	}
	got, err := st.Trace(context.Background(), spans[0].TraceID)
	if err != nil {
		tb.Fatal(err)
	}
	if len(got) != len(spans) {
		tb.Fatalf("the store returned %d spans of %d", len(got), len(spans))
	}
	return st, got
}
