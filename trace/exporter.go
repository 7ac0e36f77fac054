package trace

import (
	"context"
	"sync"
)

// Exporter sends batches of ended spans somewhere: an OTLP endpoint, a Zipkin server, stdout. The library's
// batcher calls ExportSpans from one goroutine at a time, never from the application's goroutines.
//
// ExportSpans must not keep spans, any *SpanData in it or anything reachable from one after it returns: the
// library reuses that memory for later spans. (SpanData.Clone makes a copy to keep.) It should honour ctx's
// deadline. Shutdown is called once, after the last ExportSpans.
type Exporter interface {
	ExportSpans(ctx context.Context, spans []*SpanData) error
	Shutdown(ctx context.Context) error
}

// Recorder is an Exporter that keeps a copy of every span it is given, for tests and examples.
type Recorder struct {
	mu    sync.Mutex
	spans []*SpanData
}

// ExportSpans keeps a copy of each span.
func (r *Recorder) ExportSpans(_ context.Context, spans []*SpanData) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range spans {
		r.spans = append(r.spans, d.Clone())
	}
	return nil
}

// Shutdown does nothing.
func (r *Recorder) Shutdown(context.Context) error { return nil }

// Spans returns the spans recorded so far, in export order.
func (r *Recorder) Spans() []*SpanData {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*SpanData(nil), r.spans...)
}

// Reset forgets the spans recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.spans = nil
	r.mu.Unlock()
}
