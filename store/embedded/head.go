package embedded

import (
	"math"
	"sync"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/wal"
)

// head holds recent spans in memory, by trace, until it is sealed and written to a block.
type head struct {
	mu      sync.RWMutex
	traces  map[model.TraceID]*headTrace
	spans   int
	batches []*wal.Record // the log records the spans came in, to write the block from
	created time.Time
	walSeg  int // set when sealed: log segments below it are all in this head or older blocks
}

type headTrace struct {
	spans              []*model.Span
	minStart, maxStart int64
}

func newHead() *head {
	return &head{traces: map[model.TraceID]*headTrace{}, created: time.Now()}
}

// write adds spans, which rec encodes (as wal.Encode does).
func (h *head) write(spans []*model.Span, rec *wal.Record) {
	h.mu.Lock()
	h.batches = append(h.batches, rec)
	for _, s := range spans {
		t := h.traces[s.TraceID]
		if t == nil {
			t = &headTrace{minStart: math.MaxInt64, maxStart: math.MinInt64}
			h.traces[s.TraceID] = t
		}
		t.spans = append(t.spans, s)
		t.minStart = min(t.minStart, s.Start)
		t.maxStart = max(t.maxStart, s.Start)
	}
	h.spans += len(spans)
	h.mu.Unlock()
}

func (h *head) trace(id model.TraceID) []*model.Span {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if t := h.traces[id]; t != nil {
		return t.spans[:len(t.spans):len(t.spans)]
	}
	return nil
}

func (h *head) has(id model.TraceID) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.traces[id] != nil
}

// each calls f for every trace of the head, under the read lock.
func (h *head) each(f func(id model.TraceID, t *headTrace) bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id, t := range h.traces {
		if !f(id, t) {
			return
		}
	}
}
