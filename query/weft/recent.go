package weft

import (
	"sync"
	"time"

	"github.com/weftrace/weft/model"
)

// How long and how much the handler keeps of the traces it read for waterfall answers (see recentTraces).
const (
	recentFor      = 30 * time.Second
	recentMaxSpans = 250_000
)

// recentTraces keeps, for a short time, the sorted spans of the traces most recently read for a waterfall answer.
// A client that drew a waterfall asks next for the rest of one span (spanID) or of all spans (format=columnar):
// those answers come from the same read, so they cost no second read of a large trace and their span indexes are
// the waterfall's even while spans of the trace are still arriving.
type recentTraces struct {
	mu    sync.Mutex
	list  []recentTrace // oldest first
	spans int           // in list
}

type recentTrace struct {
	id    model.TraceID
	spans []*model.Span // as the store answered them: every answer sorts them the same way
	at    time.Time
}

// get returns the spans of trace id read less than recentFor before now.
func (c *recentTraces) get(id model.TraceID, now time.Time) ([]*model.Span, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.list {
		if t.id == id && now.Sub(t.at) < recentFor {
			return t.spans, true
		}
	}
	return nil, false
}

// put keeps spans (sorted) as trace id's, read at now, replacing an older read of it and dropping the oldest
// traces beyond recentMaxSpans. A trace larger than that is not kept.
func (c *recentTraces) put(id model.TraceID, spans []*model.Span, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.list[:0]
	c.spans = 0
	for _, t := range c.list {
		if t.id != id && now.Sub(t.at) < recentFor {
			kept = append(kept, t)
			c.spans += len(t.spans)
		}
	}
	clear(c.list[len(kept):])
	c.list = kept
	if len(spans) > recentMaxSpans {
		return
	}
	c.list = append(c.list, recentTrace{id, spans, now})
	c.spans += len(spans)
	for c.spans > recentMaxSpans {
		c.spans -= len(c.list[0].spans)
		c.list[0] = recentTrace{}
		c.list = c.list[1:]
	}
}
