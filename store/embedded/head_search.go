package embedded

import (
	"slices"
	"sync"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/wal"
)

// How a search reads a head. Decoding a whole head for its view costs ~2.5 µs of CPU a span (and as much again
// in garbage collection), which a search at saturation paid for nearly every span it saw: weft serve cuts a head
// every half second or so, so each search met heads that no search had read. A search asks for the newest
// traces, and the head knows every trace's earliest start without decoding anything, so a head no search has
// decoded proposes all its traces in the search's time range, unmatched (lazy candidates), and the search
// decodes only the traces it examines, newest first, until its results are certain: for a search that many
// traces match, a few dozen traces. A search that few traces of the head match would examine many in vain; after
// headMissBudget of them it decodes the head's view after all and keeps only the head's traces that match there.
// A head whose view is mostly decoded already (it is being searched often) is matched on its view, as before.

// headMissBudget is how many lazy candidates (of traces lazy in all) a search may find not to match before it
// decodes the lazy heads' views: a sixteenth of the traces, so that the traces examined in vain cost at most
// about a sixteenth of decoding the heads, plus a few for small heads. A variable for the tests.
var headMissBudget = func(traces int) int { return 32 + traces/16 }

// headPath, when not 0, sets how searches read heads, for the tests: headPathLazy (never decoding the view),
// headView (always through the view).
var headPath int

const (
	headPathLazy = 1 + iota
	headPathView
)

// viewMostly reports whether the head's view holds at least half of its records: a search then matches on the
// view (decoding the records written since) rather than proposing the head's traces unmatched.
func (h *head) viewMostly() bool {
	switch headPath {
	case headPathLazy:
		return false
	case headPathView:
		return true
	}
	_, done := h.view.snapshot()
	h.mu.RLock()
	n := len(h.batches)
	h.mu.RUnlock()
	return done > 0 && 2*done >= n
}

// appendLazy appends to cands a lazy candidate for each trace of the head with a span starting in [start, end] (0:
// no bound), keyed by the earliest start of its spans in the head, and returns them with their number.
func (h *head) appendLazy(cands []candidate, start, end int64) ([]candidate, int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]model.TraceID, len(h.traces)) // the candidates point into it, not into h.traces, which writes change
	n := 0
	for i := range h.traces {
		t := &h.traces[i]
		if start != 0 && t.maxStart < start || end != 0 && t.minStart > end {
			continue
		}
		ids[n] = t.id
		cands = append(cands, candidate{key: t.minStart, id: &ids[n], lazy: h})
		n++
	}
	return cands, n
}

// matchingIn gives the traces of the head with a span matching q, from its view (decoding it up to date).
func (h *head) matchingIn(q *search.Query) (map[model.TraceID]bool, error) {
	pieces, err := h.scan()
	if err != nil {
		return nil, err
	}
	out := map[model.TraceID]bool{}
	for _, p := range pieces {
		for i := range p.traces {
			if t := &p.traces[i]; !out[t.id] && slices.ContainsFunc(t.spans, q.MatchSpan) {
				out[t.id] = true
			}
		}
	}
	return out, nil
}

// keepMatching drops from cands the lazy candidates whose traces match q nowhere in their heads, decoding the
// heads' views; the candidates kept are lazy no more. The order of cands is not kept.
func keepMatching(cands []candidate, q *search.Query) ([]candidate, error) {
	match := map[*head]map[model.TraceID]bool{}
	out := cands[:0]
	for _, c := range cands {
		if c.lazy == nil {
			out = append(out, c)
			continue
		}
		m, ok := match[c.lazy]
		if !ok {
			var err error
			if m, err = c.lazy.matchingIn(q); err != nil {
				return nil, err
			}
			match[c.lazy] = m
		}
		if m[*c.id] {
			c.lazy = nil
			out = append(out, c)
		}
	}
	clear(cands[len(out):]) // no pointer into the heads' views or trace tables kept past the end
	return out, nil
}

// parsedRecords parses each head record once for one search, whose candidates' traces (each spread over many
// records, runs of a span or two when requests come grouped by service) share records. Safe for concurrent use;
// a nil *parsedRecords parses anew each time.
type parsedRecords struct {
	mu sync.Mutex
	m  map[*wal.Record]*wal.Batch
}

func (pc *parsedRecords) parse(rec *wal.Record) (*wal.Batch, error) {
	if pc == nil {
		return wal.ParseBatch(rec.Payload(), nil)
	}
	pc.mu.Lock()
	bt, ok := pc.m[rec]
	pc.mu.Unlock()
	if ok {
		return bt, nil
	}
	bt, err := wal.ParseBatch(rec.Payload(), nil) // outside the lock: another examine may parse meanwhile
	if err != nil {
		return nil, err
	}
	pc.mu.Lock()
	if pc.m == nil {
		pc.m = map[*wal.Record]*wal.Batch{}
	}
	pc.m[rec] = bt
	pc.mu.Unlock()
	return bt, nil
}

// traceParsed is Store.trace parsing the heads' records through pc.
func (s *Store) traceParsed(sn *snapshot, id model.TraceID, pc *parsedRecords) ([]*model.Span, error) {
	var out []*model.Span
	for _, b := range sn.blocks {
		if i := b.find(id); i >= 0 {
			spans, err := b.traceSpans(s.cache, s.traces, i)
			if err != nil {
				return nil, err
			}
			out = append(out, spans...)
		}
	}
	for _, h := range sn.heads {
		spans, err := h.traceParsed(id, pc)
		if err != nil {
			return nil, err
		}
		out = append(out, spans...)
	}
	return out, nil
}
