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
// headMissBudget of them it decodes the head's records instead, newest first, as far as its results need (see
// headRest). A head whose view is mostly decoded already (something lists it often) is matched on its view.

// headMissBudget is how many lazy candidates (of traces lazy in all) a search may find not to match before it
// decodes the lazy heads' records: a sixty-fourth of the traces, plus a few for small heads. A trace examined
// alone costs several times its share of decoding its records whole (each of its runs is decoded apart, and a
// trace comes in runs of a span or two when requests group spans by service), so that the traces examined in vain
// cost at most about a sixth of decoding the heads (BenchmarkHeadSearchFresh/absent). A variable for the tests.
var headMissBudget = func(traces int) int { return 16 + traces/64 }

// headPath, when not 0, sets how searches read heads, for the tests: headPathLazy (never through the view),
// headPathView (always through the view).
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
// no bound) and a run in a record that nd admits, keyed by the earliest start of its spans in the head, and
// returns them with their number.
func (h *head) appendLazy(cands []candidate, start, end int64, nd needs) ([]candidate, int) {
	admitted := h.admitted(nd)
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]model.TraceID, len(h.traces)) // the candidates point into it, not into h.traces, which writes change
	n := 0
	for i := range h.traces {
		t := &h.traces[i]
		if start != 0 && t.maxStart < start || end != 0 && t.minStart > end || !h.anyAdmitted(t, admitted) {
			continue
		}
		ids[n] = t.id
		cands = append(cands, candidate{key: t.minStart, id: &ids[n], lazy: h})
		n++
	}
	return cands, n
}

// admitted tells, for each record of the head, whether nd admits it; nil when nd admits every record. Records
// written since are past its end.
func (h *head) admitted(nd needs) []bool {
	if len(nd) == 0 {
		return nil
	}
	h.mu.RLock()
	recs := h.batches[:len(h.batches):len(h.batches)]
	h.mu.RUnlock()
	out := make([]bool, len(recs))
	for i, rec := range recs {
		out[i] = nd.admit(rec.Payload())
	}
	return out
}

// anyAdmitted reports whether trace t has a run in a record that admitted admits (nil, or past its end: every
// record). h.mu is held.
func (h *head) anyAdmitted(t *headTrace, admitted []bool) bool {
	if admitted == nil {
		return true
	}
	for r := t.first; r >= 0; r = h.runs[r].next {
		if rec := h.runs[r].rec; int(rec) >= len(admitted) || admitted[rec] {
			return true
		}
	}
	return false
}

// headRest stands, in a search's heap of candidates, for the records of a head that the search has not decoded,
// once it has given up examining the head's traces one by one: its key is the latest span start of those records,
// so it comes off the heap before any trace that only they could propose. Then the newest of them (an eighth of
// the head, at least 8 records) are decoded, each of their traces with a span matching the search is proposed (as
// a view's piece proposes it), and the rest is put back for the records left. A search thus decodes a head from
// its newest records back, only as far as its results need.
type headRest struct {
	recs   []*wal.Record // the head's records when the search gave up on its lazy candidates
	latest []int64       // latest[i]: the latest span start of recs[:i+1]
	n      int           // recs[:n] are not decoded
}

// noTrace is the trace ID of a headRest's candidate: the lowest, so that it comes off the heap before any trace
// of its key, and no result of its start ends the search before it.
var noTrace model.TraceID

// rest is a headRest for all of the head's records so far, or nil when it has none.
func (h *head) rest() *headRest {
	h.mu.RLock()
	recs := h.batches[:len(h.batches):len(h.batches)]
	latest := slices.Clone(h.latest[:len(recs)])
	h.mu.RUnlock()
	if len(recs) == 0 {
		return nil
	}
	for i := 1; i < len(latest); i++ {
		latest[i] = max(latest[i], latest[i-1])
	}
	return &headRest{recs: recs, latest: latest, n: len(recs)}
}

func (r *headRest) candidate() candidate {
	return candidate{key: r.latest[r.n-1], id: &noTrace, rest: r}
}

// next decodes the newest records of r not decoded yet, those that may hold a span matching q (needsOf), and
// pushes onto h a candidate for each trace with a span in them matching q, then r's candidate again if records are
// left.
func (r *headRest) next(h *candHeap, q *search.Query) error {
	lo := max(0, r.n-max(8, len(r.recs)/8))
	p, err := decodePiece(r.recs[lo:r.n], lo, needsOf(q))
	if err != nil {
		return err
	}
	for i := range p.traces {
		if t := &p.traces[i]; slices.ContainsFunc(t.spans, q.MatchSpan) {
			h.push(candidate{key: t.minStart, id: &t.id})
		}
	}
	if r.n = lo; r.n > 0 {
		h.push(r.candidate())
	}
	return nil
}

// giveUpLazy replaces in cands the lazy candidates by a headRest's candidate for each of their heads. The order of
// cands is not kept.
func giveUpLazy(cands []candidate) []candidate {
	var heads []*head
	out := cands[:0]
	for _, c := range cands {
		if c.lazy == nil {
			out = append(out, c)
		} else if !slices.Contains(heads, c.lazy) {
			heads = append(heads, c.lazy)
		}
	}
	clear(cands[len(out):]) // no pointer into the heads kept past the end
	for _, h := range heads {
		if r := h.rest(); r != nil {
			out = append(out, r.candidate())
		}
	}
	return out
}

func (h *candHeap) push(c candidate) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		up := (i - 1) / 2
		if !s.less(i, up) {
			break
		}
		s[i], s[up] = s[up], s[i]
		i = up
	}
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

// traceParsed gathers every span of id from all parts, parsing the heads' records through pc (nil: anew).
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
