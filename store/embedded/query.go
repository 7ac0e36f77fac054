package embedded

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/wal"
)

// DefaultLimit is the number of traces FindTraces answers when the query sets no limit.
const DefaultLimit = 20

// ordSet is a set of trace ordinals of one block: sorted ords, or every trace when all is set.
type ordSet struct {
	all  bool
	ords []uint32
}

var everything = ordSet{all: true}

func intersect(a, b ordSet) ordSet {
	if a.all {
		return b
	}
	if b.all {
		return a
	}
	out := make([]uint32, 0, min(len(a.ords), len(b.ords)))
	i, j := 0, 0
	for i < len(a.ords) && j < len(b.ords) {
		switch {
		case a.ords[i] < b.ords[j]:
			i++
		case a.ords[i] > b.ords[j]:
			j++
		default:
			out = append(out, a.ords[i])
			i++
			j++
		}
	}
	return ordSet{ords: out}
}

func union(a, b ordSet) ordSet {
	if a.all || b.all {
		return everything
	}
	out := make([]uint32, 0, len(a.ords)+len(b.ords))
	i, j := 0, 0
	for i < len(a.ords) || j < len(b.ords) {
		switch {
		case j == len(b.ords) || i < len(a.ords) && a.ords[i] < b.ords[j]:
			out = append(out, a.ords[i])
			i++
		case i == len(a.ords) || b.ords[j] < a.ords[i]:
			out = append(out, b.ords[j])
			j++
		default:
			out = append(out, a.ords[i])
			i++
			j++
		}
	}
	return ordSet{ords: out}
}

// termSet looks one term up; a term the block lacks gives the empty set.
func termSet(b *block, c *pageCache, term string) (ordSet, error) {
	pl, ok, err := b.lookup(c, term)
	if err != nil || !ok {
		return ordSet{}, err
	}
	return ordSet{ords: pl.ords}, nil
}

// querySet is the traces of block b that may hold a span matching q: a superset, exact for the index's terms.
func querySet(b *block, c *pageCache, q *search.Query) (ordSet, error) {
	set := everything
	if q.Service != "" && q.Operation != "" {
		pl, ok, err := b.lookup(c, string(termOperation)+q.Service+"\x00"+q.Operation)
		if err != nil || !ok {
			return ordSet{}, err
		}
		if q.MinDuration > 0 || q.MaxDuration > 0 {
			lo, hi := durBucket(q.MinDuration, false), durBucket(q.MaxDuration, true)
			ords := pl.ords[:0:0]
			for i, o := range pl.ords {
				if (q.MinDuration <= 0 || pl.dmax[i] >= lo) && (q.MaxDuration <= 0 || pl.dmin[i] <= hi) {
					ords = append(ords, o)
				}
			}
			pl.ords = ords
		}
		set = ordSet{ords: pl.ords}
	} else if q.Service != "" {
		s, err := termSet(b, c, string(termService)+q.Service)
		if err != nil {
			return ordSet{}, err
		}
		set = s
	} else if q.Operation != "" {
		s, err := termSet(b, c, string(termName)+q.Operation)
		if err != nil {
			return ordSet{}, err
		}
		set = s
	}
	if q.Kind != model.KindUnspecified && (set.all || len(set.ords) > 0) {
		s, err := termSet(b, c, string(termKind)+q.Kind.String())
		if err != nil {
			return ordSet{}, err
		}
		set = intersect(set, s)
	}
	if q.Expr != nil && (set.all || len(set.ords) > 0) {
		s, err := exprSet(b, c, q.Expr)
		if err != nil {
			return ordSet{}, err
		}
		set = intersect(set, s)
	}
	return set, nil
}

// exprSet is a superset of the traces with a span matching e, from the index where e allows.
func exprSet(b *block, c *pageCache, e search.Expr) (ordSet, error) {
	switch x := e.(type) {
	case *search.And:
		set := everything
		for _, x := range x.Exprs {
			s, err := exprSet(b, c, x)
			if err != nil {
				return ordSet{}, err
			}
			set = intersect(set, s)
			if !set.all && len(set.ords) == 0 {
				break
			}
		}
		return set, nil
	case *search.Or:
		set := ordSet{}
		for _, x := range x.Exprs {
			s, err := exprSet(b, c, x)
			if err != nil {
				return ordSet{}, err
			}
			if set = union(set, s); set.all {
				break
			}
		}
		return set, nil
	case *search.Compare:
		terms := compareTerms(x)
		if terms == nil {
			return everything, nil
		}
		set := ordSet{}
		for _, t := range terms {
			s, err := termSet(b, c, t)
			if err != nil {
				return ordSet{}, err
			}
			set = union(set, s)
		}
		return set, nil
	}
	return everything, nil
}

// compareTerms lists the index terms whose union holds every trace with a span matching c, or nil when the index
// cannot answer c.
func compareTerms(c *search.Compare) []string {
	if c.Op != search.OpEq {
		return nil
	}
	if c.Field.Scope == search.ScopeIntrinsic {
		if c.Value.Type != model.TypeString {
			return nil
		}
		switch c.Field.Name {
		case search.FieldService:
			return []string{string(termService) + c.Value.Str}
		case search.FieldName:
			return []string{string(termName) + c.Value.Str}
		case search.FieldStatus:
			return []string{string(termStatus) + c.Value.Str}
		case search.FieldKind:
			return []string{string(termKind) + c.Value.Str}
		}
		return nil
	}
	key := c.Field.Name
	serviceToo := key == "service.name" && c.Field.Scope != search.ScopeSpan
	switch c.Value.Type {
	case model.TypeString:
		terms := []string{string(termAttr) + key + "\x00" + c.Value.Str}
		if serviceToo {
			terms = append(terms, string(termService)+c.Value.Str)
		}
		return terms
	case model.TypeInt, model.TypeFloat:
		if serviceToo {
			return nil
		}
		if c.Value.Type == model.TypeInt && (c.Value.Int() >= 1<<53 || c.Value.Int() <= -1<<53) {
			return nil
		}
		n, ok := canonicalNumber(c.Value)
		if !ok {
			return nil
		}
		return []string{string(termAttr) + key + "\x00" + n, string(termNumber) + key + "\x00" + n}
	}
	return nil
}

// candidate is a trace that may match, keyed by the earliest start of its spans in the part that proposed it,
// which is never earlier than the trace's own start.
type candidate struct {
	key int64
	id  *model.TraceID // in the block's trace table, a piece of a head's view, or the search's copy of a head's
	b   *block         // the block that proposed it (nil: a head), and its ordinal there
	ord int
	// lazy is the head that proposed the trace without looking at its spans (see appendLazy); nil when the part
	// that proposed it found a span that may match.
	lazy *head
	rest *headRest // not a trace but a head's records not decoded yet, with id &noTrace
}

func newer(aStart int64, aID model.TraceID, bStart int64, bID model.TraceID) bool {
	if aStart != bStart {
		return aStart > bStart
	}
	return bytes.Compare(aID[:], bID[:]) < 0
}

// candHeap is a binary heap of candidates, newest at the top.
type candHeap []candidate

func (h candHeap) less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key > h[j].key
	}
	return bytes.Compare(h[i].id[:], h[j].id[:]) < 0
}

func (h candHeap) down(i int) { siftDown(h, i) }

// siftDown moves h[i] down the binary heap h (least first, by h.less) to its place.
func siftDown[H interface {
	~[]E
	less(i, j int) bool
}, E any](h H, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h candHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *candHeap) pop() candidate {
	old := *h
	c := old[0]
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	h.down(0)
	return c
}

// readAhead is how many of a search's candidate traces are read at once: a few, so that a search uses more than
// one core for the page reads (outlines, or rebuilds of whole pages) that are most of its time.
const readAhead = 4

// FindTraces answers a search, newest traces first.
func (s *Store) FindTraces(ctx context.Context, q search.Query) ([]store.TraceSummary, error) {
	defer s.observe("find_traces", time.Now())
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()

	sets := make([]ordSet, len(sn.blocks))
	n := 0
	for i, b := range sn.blocks {
		if q.Start != 0 && b.meta.MaxStart < q.Start || q.End != 0 && b.meta.MinStart > q.End {
			continue
		}
		set, err := querySet(b, s.chunks, &q)
		if err != nil {
			return nil, err
		}
		if set.all {
			n += len(b.ids)
		} else {
			n += len(set.ords)
		}
		sets[i] = set
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	cands := make([]candidate, 0, n)
	for i, b := range sn.blocks {
		add := func(o int) {
			if q.Start != 0 && b.tMax[o] < q.Start || q.End != 0 && b.tMin[o] > q.End {
				return
			}
			cands = append(cands, candidate{key: b.tMin[o], id: &b.ids[o], b: b, ord: o})
		}
		if sets[i].all {
			for o := range b.ids {
				add(o)
			}
		} else {
			for _, o := range sets[i].ords {
				add(int(o))
			}
		}
	}
	lazy := 0 // lazy candidates, see head_search.go
	nd := needsOf(&q)
	for _, h := range sn.heads {
		if !h.viewMostly() {
			var n int
			cands, n = h.appendLazy(cands, q.Start, q.End, nd)
			lazy += n
			continue
		}
		pieces, err := h.scan()
		if err != nil {
			return nil, err
		}
		// A trace in several pieces may be proposed by each; the search takes it once. Its key, the earliest
		// start of its spans in the piece, is never earlier than the trace's start.
		for _, p := range pieces {
			for i := range p.traces {
				t := &p.traces[i]
				if slices.ContainsFunc(t.spans, q.MatchSpan) {
					cands = append(cands, candidate{key: t.minStart, id: &t.id})
				}
			}
		}
	}
	misses, budget := 0, headMissBudget(lazy)
	pc := &parsedRecords{}
	// Candidates come off a heap newest first: usually only a few dozen are needed of many thousands.
	h := candHeap(cands)
	h.init()

	exact := indexExact(&q)
	seen := make(map[model.TraceID]bool)
	var out []store.TraceSummary
	batch := make([]candidate, 0, readAhead)
	sums := make([]store.TraceSummary, readAhead)
	found := make([]bool, readAhead)
	errs := make([]error, readAhead)
	for len(h) > 0 {
		// The next few candidates that may still enter the results are read from their blocks at once (reading
		// pages is most of a search's time), then taken in order, so the answer is the one a candidate at a time
		// gives; at most readAhead-1 traces are read in vain when the results fill up within a batch.
		batch = batch[:0]
		for len(h) > 0 && len(batch) < readAhead {
			c := h[0]
			if len(out) >= limit {
				// A candidate's trace starts no later than its key, so once the last result is newer than the
				// candidate's key (ties broken by trace ID, as the results are), no later candidate can displace it.
				last := out[len(out)-1]
				if newer(last.Start, last.TraceID, c.key, *c.id) {
					break
				}
			}
			h.pop()
			if c.rest != nil {
				if err := c.rest.next(&h, &q); err != nil {
					return nil, err
				}
				continue
			}
			if !seen[*c.id] {
				seen[*c.id] = true
				batch = append(batch, c)
			}
		}
		if len(batch) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		for i := 1; i < len(batch); i++ {
			wg.Go(func() { sums[i], found[i], errs[i] = s.examine(sn, &q, exact, batch[i], pc) })
		}
		sums[0], found[0], errs[0] = s.examine(sn, &q, exact, batch[0], pc)
		wg.Wait()
		for i := range batch {
			if errs[i] != nil {
				return nil, errs[i]
			}
			if !found[i] {
				if batch[i].lazy != nil {
					misses++
				}
				continue
			}
			sum := sums[i]
			j := sort.Search(len(out), func(j int) bool { return newer(sum.Start, sum.TraceID, out[j].Start, out[j].TraceID) })
			out = slices.Insert(out, j, sum)
			if len(out) > limit {
				out = out[:limit]
			}
		}
		if lazy > 0 && misses > budget {
			// Few of the heads' traces match: decoding their records, newest first, finds which at less cost than
			// examining the traces one by one.
			h = candHeap(giveUpLazy(h))
			h.init()
			lazy = 0
		}
	}
	return out, nil
}

// examine reads candidate c: whether its trace matches q and, if it does, its summary. A trace wholly in one
// block of column pages is answered from its page's outline (wal.PageOutline: services, names, kinds, durations
// and starts) for a query without an expression, or one the index answers alone (exact, see indexExact: the
// trace matches); the others are read whole, the heads' records parsed through pc.
func (s *Store) examine(sn *snapshot, q *search.Query, exact bool, c candidate, pc *parsedRecords) (store.TraceSummary, bool, error) {
	id := *c.id
	// The trace is wholly in one block of column pages, which its page's outline can answer for.
	whole := (q.Expr == nil || exact) && c.b != nil && c.b.meta.ColumnPages && !sn.elsewhere(c.b, id)
	// indexExact leaves the time range aside: it holds for every span of a trace whose spans all start in it.
	exact = whole && exact && (q.Start == 0 || c.b.tMin[c.ord] >= q.Start) && (q.End == 0 || c.b.tMax[c.ord] <= q.End)
	if whole && (q.Expr == nil || exact) {
		o, err := c.b.outline(s.cache, c.b.tPage[c.ord])
		if err != nil {
			return store.TraceSummary{}, false, err
		}
		lo, hi := c.b.traceRows(c.ord, len(o.Spans))
		if lo > hi || hi > len(o.Spans) {
			return store.TraceSummary{}, false, fmt.Errorf("embedded: block %s: trace %d: rows %d..%d of a page of %d",
				c.b.path, c.ord, lo, hi, len(o.Spans))
		}
		spans := o.Spans[lo:hi]
		if exact { // the index proposed the trace: it matches
			return summarizeOutline(id, o, spans), true, nil
		}
		for i := range spans {
			if matchOutline(q, o, &spans[i]) {
				return summarizeOutline(id, o, spans), true, nil
			}
		}
		return store.TraceSummary{}, false, nil
	}
	spans, err := s.traceParsed(sn, id, pc)
	if err != nil || !slices.ContainsFunc(spans, q.MatchSpan) {
		return store.TraceSummary{}, false, err
	}
	return store.Summarize(id, spans), true, nil
}

// indexExact reports whether a block's index answers q exactly, but for its time range (which examine checks
// against the trace's span starts): a trace is in querySet only if one of its spans in the block matches q, so
// that no span needs testing. That holds for a query of one expression made of
// equalities of a string literal (or alternatives of them) on an attribute of the span or its resource, or on
// the service, name, status or kind: their terms hold a trace when one of its spans holds the value (attributes
// of every type under their text, model.Value.AsString, as search.Compare compares them). service.name as an
// attribute is left out (the index's service terms also hold "", which the attribute never matches).
func indexExact(q *search.Query) bool {
	if q.Expr == nil || q.Service != "" || q.Operation != "" || q.Kind != model.KindUnspecified ||
		q.MinDuration > 0 || q.MaxDuration > 0 {
		return false
	}
	return exactExpr(q.Expr)
}

func exactExpr(e search.Expr) bool {
	switch x := e.(type) {
	case *search.Or:
		for _, c := range x.Exprs {
			if !exactExpr(c) {
				return false
			}
		}
		return len(x.Exprs) > 0
	case *search.Compare:
		if x.Op != search.OpEq || x.Value.Type != model.TypeString {
			return false
		}
		switch x.Field.Scope {
		case search.ScopeAny:
			return x.Field.Name != "service.name"
		case search.ScopeIntrinsic:
			switch x.Field.Name {
			case search.FieldService, search.FieldName, search.FieldStatus, search.FieldKind:
				return true
			}
		}
	}
	return false
}

// matchOutline is search.Query.MatchSpan for a span's outline, for a query without an expression.
func matchOutline(q *search.Query, o *wal.Outline, s *wal.SpanOutline) bool {
	return (q.Service == "" || o.String(s.Service) == q.Service) &&
		(q.Operation == "" || o.String(s.Name) == q.Operation) &&
		(q.Kind == model.KindUnspecified || s.Kind == q.Kind) &&
		(q.MinDuration <= 0 || s.Duration >= q.MinDuration) &&
		(q.MaxDuration <= 0 || s.Duration <= q.MaxDuration) &&
		(q.Start == 0 || s.Start >= q.Start) &&
		(q.End == 0 || s.Start <= q.End)
}

// summarizeOutline is store.Summarize for a trace's spans in outline, in the order the trace's read gives them.
func summarizeOutline(id model.TraceID, o *wal.Outline, spans []wal.SpanOutline) store.TraceSummary {
	sum := store.TraceSummary{TraceID: id, SpanCount: len(spans)}
	if len(spans) == 0 {
		return sum
	}
	root, first := -1, 0
	var end int64
	for i := range spans {
		sp := &spans[i]
		if sp.Start < spans[first].Start {
			first = i
		}
		if sp.Root && (root < 0 || sp.Start < spans[root].Start) {
			root = i
		}
		if e := sp.Start + sp.Duration; i == 0 || e > end {
			end = e
		}
		if sp.Status == model.StatusError {
			sum.ErrorCount++
		}
		svc := o.String(sp.Service)
		j := 0
		for j < len(sum.Services) && sum.Services[j].Service != svc {
			j++
		}
		if j == len(sum.Services) {
			sum.Services = append(sum.Services, store.ServiceCount{Service: svc})
		}
		sum.Services[j].Spans++
	}
	if root < 0 {
		root = first
	}
	sum.RootService, sum.RootName = o.String(spans[root].Service), o.String(spans[root].Name)
	sum.Start, sum.Duration = spans[first].Start, end-spans[first].Start
	slices.SortFunc(sum.Services, func(a, b store.ServiceCount) int { return strings.Compare(a.Service, b.Service) })
	return sum
}
