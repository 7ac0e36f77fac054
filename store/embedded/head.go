package embedded

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/wal"
)

// head holds recent spans in memory until it is sealed and written to a block. It keeps them only as the log
// records they came in (encoded, about a tenth of the memory of decoded spans and nothing for the collector to
// mark), and for each trace where its runs of records are: the block is built from the records, and queries
// decode what they need from them (see headView). It keeps no reference to the spans it was written with.
type head struct {
	mu      sync.RWMutex
	ids     map[model.TraceID]int32 // index in traces
	traces  []headTrace
	runs    []headRun
	spans   int
	batches []*wal.Record // the log records the spans came in, in the order written
	latest  []int64       // the latest span start of each record (for searches, see headRest)
	created time.Time
	walSeg  int // set when sealed: log segments below it are all in this head or older blocks

	view headView
}

// headTrace is one trace of the head: its ID, the span starts seen, and its runs of records (in h.runs), oldest
// first.
type headTrace struct {
	id                 model.TraceID
	minStart, maxStart int64
	first, last        int32
}

// headRun is a run of one trace's spans in a record: batches[rec].Runs[run]; next is the trace's next run, or -1.
type headRun struct {
	rec, run, next int32
}

func newHead() *head {
	return &head{ids: map[model.TraceID]int32{}, created: time.Now()}
}

// write adds spans, which rec encodes (as wal.Encode does: the spans in order, rec.Runs over them). It reads the
// spans' trace IDs and starts and keeps nothing of them.
func (h *head) write(spans []*model.Span, rec *wal.Record) {
	starts := runStarts(spans, rec)
	latest := int64(math.MinInt64)
	for k := 1; k < len(starts); k += 2 {
		latest = max(latest, starts[k])
	}
	h.mu.Lock()
	r := int32(len(h.batches))
	h.batches = append(h.batches, rec)
	h.latest = append(h.latest, latest)
	for k, run := range rec.Runs {
		i, ok := h.ids[run.TraceID]
		n := int32(len(h.runs))
		h.runs = append(h.runs, headRun{rec: r, run: int32(k), next: -1})
		if !ok {
			i = int32(len(h.traces))
			h.ids[run.TraceID] = i
			h.traces = append(h.traces, headTrace{id: run.TraceID, minStart: starts[2*k], maxStart: starts[2*k+1], first: n, last: n})
			continue
		}
		t := &h.traces[i]
		h.runs[t.last].next = n
		t.last = n
		t.minStart = min(t.minStart, starts[2*k])
		t.maxStart = max(t.maxStart, starts[2*k+1])
	}
	h.spans += rec.Spans
	h.mu.Unlock()
}

// runStarts gives the earliest and latest start of each of rec's runs (two entries a run). Run k holds the spans
// from its From.Row up to the next run's; should spans not line up with the record's runs that way, each run gets
// the span starts of its whole trace in spans.
func runStarts(spans []*model.Span, rec *wal.Record) []int64 {
	out := make([]int64, 2*len(rec.Runs))
	aligned := len(spans) == rec.Spans
	for k, run := range rec.Runs {
		lo, hi := runRows(rec, k, len(spans))
		mn, mx := int64(math.MaxInt64), int64(math.MinInt64)
		if !aligned || lo < 0 || lo >= hi || hi > len(spans) {
			aligned = false
			break
		}
		for _, s := range spans[lo:hi] {
			if s.TraceID != run.TraceID {
				aligned = false
				break
			}
			mn, mx = min(mn, s.Start), max(mx, s.Start)
		}
		out[2*k], out[2*k+1] = mn, mx
	}
	if aligned {
		return out
	}
	byTrace := make(map[model.TraceID][2]int64, len(rec.Runs))
	for _, s := range spans {
		m, ok := byTrace[s.TraceID]
		if !ok {
			m = [2]int64{math.MaxInt64, math.MinInt64}
		}
		byTrace[s.TraceID] = [2]int64{min(m[0], s.Start), max(m[1], s.Start)}
	}
	for k, run := range rec.Runs {
		m, ok := byTrace[run.TraceID]
		if !ok { // not a span of the trace: a range no query excludes
			m = [2]int64{math.MinInt64, math.MaxInt64}
		}
		out[2*k], out[2*k+1] = m[0], m[1]
	}
	return out
}

// runRows is the rows of rec's spans (of n in all) that run k holds: from its first up to the next run's first.
func runRows(rec *wal.Record, k, n int) (lo, hi int) {
	lo, hi = rec.Runs[k].From.Row, n
	if k+1 < len(rec.Runs) {
		hi = rec.Runs[k+1].From.Row
	}
	return lo, hi
}

// traceParsed decodes the spans of trace id in the head, in the order they were written: from the decoded view
// where it covers the trace's records, from the records otherwise, parsing each record through pc (nil: each
// record the trace lies in is parsed anew).
func (h *head) traceParsed(id model.TraceID, pc *parsedRecords) ([]*model.Span, error) {
	h.mu.RLock()
	i, ok := h.ids[id]
	if !ok {
		h.mu.RUnlock()
		return nil, nil
	}
	var refs []headRun
	for k := h.traces[i].first; k >= 0; k = h.runs[k].next {
		refs = append(refs, h.runs[k])
	}
	batches := h.batches[:len(h.batches):len(h.batches)]
	h.mu.RUnlock()

	pieces, covered := h.view.snapshot()
	var out []*model.Span
	for _, p := range pieces {
		if j, ok := p.ids[id]; ok {
			out = append(out, p.traces[j].spans...)
		}
	}
	var bt *wal.Batch
	parsed := int32(-1)
	for _, r := range refs {
		if int(r.rec) < covered {
			continue
		}
		rec := batches[r.rec]
		if r.rec != parsed {
			var err error
			if bt, err = pc.parse(rec); err != nil {
				return nil, fmt.Errorf("embedded: the head's record %d: %w", r.rec, err)
			}
			parsed = r.rec
		}
		run := rec.Runs[r.run]
		spans, err := bt.Range(run.From, run.RecEnd)
		if err != nil {
			return nil, fmt.Errorf("embedded: the head's record %d: %w", r.rec, err)
		}
		out = append(out, spans...)
	}
	return out, nil
}

func (h *head) has(id model.TraceID) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.ids[id]
	return ok
}

// each calls f for every trace of the head with the earliest and latest start of its spans, under the read lock.
func (h *head) each(f func(id model.TraceID, minStart, maxStart int64) bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id, i := range h.ids {
		if !f(id, h.traces[i].minStart, h.traces[i].maxStart) {
			return
		}
	}
}

// headView is the head's records decoded, for the queries that look at every span (searches, listings,
// dependencies). It is built at the first such query and extended at each later one by the records written since,
// so a head that nobody queries holds no decoded span, and one queried often decodes each record once. A sealed
// head takes no more records: its view is built once. The view goes with its head when the head becomes a block.
//
// The view is a list of pieces, each the records of one extension grouped by trace, immutable once made, so that
// queries read them without a lock while a writer adds to the head. A new piece is merged with the one before
// while that one is not bigger (a binary counter): a head queried n times keeps O(log n) pieces, and each span
// is copied O(log n) times.
//
// A view no search has read for viewIdle is let go at the next write, so that a head searched once does not keep
// its decoded spans (~1.6 KB each) for the rest of its life.
type headView struct {
	extend sync.Mutex // one extension at a time; queries meanwhile read the pieces they have

	mu     sync.Mutex
	pieces []*viewPiece // replaced, never changed in place
	recs   int          // the head's records the pieces hold

	used atomic.Int64 // when a search last read the view (Unix ns), 0 when there is none
}

// viewIdle is how long a head's view is kept after the last search that read it.
const viewIdle = 10 * time.Second

// dropIdle lets go of the view if no search read it for viewIdle before now (Unix ns). It never waits: a view
// being extended is in use.
func (v *headView) dropIdle(now int64) {
	if u := v.used.Load(); u == 0 || now-u < int64(viewIdle) || !v.extend.TryLock() {
		return
	}
	defer v.extend.Unlock()
	if now-v.used.Load() < int64(viewIdle) {
		return
	}
	v.mu.Lock()
	v.pieces, v.recs = nil, 0
	v.mu.Unlock()
	v.used.Store(0)
}

// viewPiece is some of a head's records decoded, by trace.
type viewPiece struct {
	spans  int
	ids    map[model.TraceID]int32 // index in traces
	traces []viewTrace
}

// viewTrace is a trace's spans in a piece, in the order written, and the earliest of their starts.
type viewTrace struct {
	id       model.TraceID
	minStart int64
	spans    []*model.Span // never appended to in place: other pieces and queries may share it
}

func (v *headView) snapshot() ([]*viewPiece, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pieces, v.recs
}

// scan brings the head's view up to the records written so far and returns its pieces.
func (h *head) scan() ([]*viewPiece, error) {
	v := &h.view
	v.extend.Lock()
	defer v.extend.Unlock()
	v.used.Store(time.Now().UnixNano())
	pieces, done := v.snapshot()
	h.mu.RLock()
	recs := h.batches[done:len(h.batches):len(h.batches)]
	h.mu.RUnlock()
	if len(recs) == 0 {
		return pieces, nil
	}
	p, err := decodePiece(recs, done, nil)
	if err != nil {
		return nil, err
	}
	pieces = append(slices.Clone(pieces), p)
	for n := len(pieces); n >= 2 && pieces[n-2].spans <= pieces[n-1].spans; n-- {
		pieces = append(pieces[:n-2], mergePieces(pieces[n-2], pieces[n-1]))
	}
	v.mu.Lock()
	v.pieces, v.recs = pieces, done+len(recs)
	v.mu.Unlock()
	return pieces, nil
}

// decodePiece decodes records (the head's from number first on) into a piece, on up to GOMAXPROCS goroutines:
// those that nd admits (all, for no needs); the others are left out of the piece.
func decodePiece(recs []*wal.Record, first int, nd needs) (*viewPiece, error) {
	decoded := make([][]*model.Span, len(recs))
	skip := make([]bool, len(recs))
	errs := make([]error, len(recs))
	workers := min(runtime.GOMAXPROCS(0), (len(recs)+7)/8)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n := w; n < len(recs); n += workers {
				if skip[n] = !nd.admit(recs[n].Payload()); skip[n] {
					continue
				}
				bt, err := wal.ParseBatch(recs[n].Payload(), nil)
				if err == nil {
					decoded[n], err = bt.All()
				}
				if err == nil && len(decoded[n]) != recs[n].Spans {
					err = fmt.Errorf("%d spans decoded of %d", len(decoded[n]), recs[n].Spans)
				}
				errs[n] = err
			}
		})
	}
	wg.Wait()
	p := &viewPiece{ids: map[model.TraceID]int32{}}
	for n, rec := range recs {
		if skip[n] {
			continue
		}
		err := errs[n]
		if err == nil {
			err = p.addRecord(rec, decoded[n])
		}
		if err != nil {
			return nil, fmt.Errorf("embedded: the head's record %d: %w", first+n, err)
		}
	}
	return p, nil
}

// addRecord adds the decoded spans of rec, run by run.
func (p *viewPiece) addRecord(rec *wal.Record, spans []*model.Span) error {
	for k, run := range rec.Runs {
		lo, hi := runRows(rec, k, len(spans))
		if lo < 0 || lo > hi || hi > len(spans) {
			return fmt.Errorf("run %d rows %d..%d of %d spans", k, lo, hi, len(spans))
		}
		if lo == hi {
			continue
		}
		mn := spans[lo].Start
		for _, s := range spans[lo+1 : hi] {
			mn = min(mn, s.Start)
		}
		p.add(run.TraceID, spans[lo:hi:hi], mn)
	}
	return nil
}

// add appends spans (which the piece may keep as they are), whose earliest start is mn, to trace id's.
func (p *viewPiece) add(id model.TraceID, spans []*model.Span, mn int64) {
	p.spans += len(spans)
	i, ok := p.ids[id]
	if !ok {
		p.ids[id] = int32(len(p.traces))
		p.traces = append(p.traces, viewTrace{id: id, minStart: mn, spans: spans})
		return
	}
	t := &p.traces[i]
	t.spans = append(t.spans[:len(t.spans):len(t.spans)], spans...) // a copy: the old slice may be shared
	t.minStart = min(t.minStart, mn)
}

// mergePieces makes one piece of a and b (b's records after a's), leaving both as they are.
func mergePieces(a, b *viewPiece) *viewPiece {
	p := &viewPiece{ids: make(map[model.TraceID]int32, len(a.traces)+len(b.traces)/2),
		traces: make([]viewTrace, 0, len(a.traces)+len(b.traces)/2)}
	for _, x := range [2]*viewPiece{a, b} {
		for i := range x.traces {
			t := &x.traces[i]
			p.add(t.id, t.spans, t.minStart)
		}
	}
	return p
}

// eachSpan calls f with every span of the pieces.
func eachSpan(pieces []*viewPiece, f func(*model.Span)) {
	for _, p := range pieces {
		for i := range p.traces {
			for _, s := range p.traces[i].spans {
				f(s)
			}
		}
	}
}
