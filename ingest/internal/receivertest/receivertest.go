// Package receivertest checks, for the receivers' fuzz tests, what a receiver does with a request: the answer it
// gives and what it hands to its consumer. It sits beside the receivers and is imported by their tests only.
package receivertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// Consumer is an ingest.BatchConsumer that checks what it is handed: only whole spans (IDs set, a Resource, no
// negative duration), and to ConsumeBatch exactly the spans the receiver added to the batch, in order. When
// Release is set its batches say they let go of the spans, so that the receiver reuses their memory for the
// next request.
type Consumer struct {
	Release  bool
	consumed int
	problem  string
}

type batch struct {
	c     *Consumer
	added []*model.Span
	took  bool
}

func (b *batch) Add(s *model.Span) { b.added = append(b.added, s) }
func (b *batch) Released() bool    { return b.took && b.c.Release }

// NewBatch is a batch that records what is added to it.
func (c *Consumer) NewBatch() ingest.Batch { return &batch{c: c} }

// Consume checks spans.
func (c *Consumer) Consume(_ context.Context, spans []*model.Span) error {
	c.check(spans)
	return nil
}

// ConsumeBatch checks spans and that b holds exactly them.
func (c *Consumer) ConsumeBatch(_ context.Context, spans []*model.Span, b ingest.Batch) error {
	rb := b.(*batch)
	rb.took = true
	if len(rb.added) != len(spans) {
		c.fail("%d spans added to the batch, %d handed over", len(rb.added), len(spans))
	}
	for i := range min(len(spans), len(rb.added)) {
		if rb.added[i] != spans[i] {
			c.fail("span %d handed over is not the one added to the batch", i)
		}
	}
	c.check(spans)
	return nil
}

func (c *Consumer) check(spans []*model.Span) {
	c.consumed += len(spans)
	for i, s := range spans {
		if s.TraceID.IsZero() || s.SpanID.IsZero() || s.Resource == nil || s.Duration < 0 {
			c.fail("span %d handed over but not whole: %+v", i, s)
		}
	}
}

func (c *Consumer) fail(format string, args ...any) {
	if c.problem == "" {
		c.problem = fmt.Sprintf(format, args...)
	}
}

// Serve sends r to h, whose consumer is c, and fails t unless h answered ok (the receiver's success status)
// having handed over whole spans, or 400, 413 or 415 having handed over nothing: a request that fails is not
// half taken.
func Serve(t *testing.T, h http.Handler, c *Consumer, r *http.Request, ok int) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if c.problem != "" {
		t.Fatalf("%s %s: %s", r.Method, r.URL, c.problem)
	}
	switch rec.Code {
	case ok:
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		if c.consumed > 0 {
			t.Fatalf("%s %s: answered %d but handed over %d spans", r.Method, r.URL, rec.Code, c.consumed)
		}
		if rec.Body.Len() == 0 {
			t.Fatalf("%s %s: answered %d without saying why", r.Method, r.URL, rec.Code)
		}
	default:
		t.Fatalf("%s %s: answered %d: %s", r.Method, r.URL, rec.Code, rec.Body)
	}
}
