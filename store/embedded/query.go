package embedded

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
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
func termSet(b *block, term string) (ordSet, error) {
	pl, ok, err := b.lookup(term)
	if err != nil || !ok {
		return ordSet{}, err
	}
	return ordSet{ords: pl.ords}, nil
}

// querySet is the traces of block b that may hold a span matching q: a superset, exact for the index's terms.
func querySet(b *block, q *search.Query) (ordSet, error) {
	set := everything
	if q.Service != "" && q.Operation != "" {
		pl, ok, err := b.lookup(string(termOperation) + q.Service + "\x00" + q.Operation)
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
		s, err := termSet(b, string(termService)+q.Service)
		if err != nil {
			return ordSet{}, err
		}
		set = s
	} else if q.Operation != "" {
		s, err := termSet(b, string(termName)+q.Operation)
		if err != nil {
			return ordSet{}, err
		}
		set = s
	}
	if q.Kind != model.KindUnspecified && (set.all || len(set.ords) > 0) {
		s, err := termSet(b, string(termKind)+q.Kind.String())
		if err != nil {
			return ordSet{}, err
		}
		set = intersect(set, s)
	}
	if q.Expr != nil && (set.all || len(set.ords) > 0) {
		s, err := exprSet(b, q.Expr)
		if err != nil {
			return ordSet{}, err
		}
		set = intersect(set, s)
	}
	return set, nil
}

// exprSet is a superset of the traces with a span matching e, from the index where e allows.
func exprSet(b *block, e search.Expr) (ordSet, error) {
	switch x := e.(type) {
	case *search.And:
		set := everything
		for _, c := range x.Exprs {
			s, err := exprSet(b, c)
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
		for _, c := range x.Exprs {
			s, err := exprSet(b, c)
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
			s, err := termSet(b, t)
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
	id  model.TraceID
	key int64
}

func newer(aStart int64, aID model.TraceID, bStart int64, bID model.TraceID) bool {
	if aStart != bStart {
		return aStart > bStart
	}
	return bytes.Compare(aID[:], bID[:]) < 0
}

// candHeap is a binary heap of candidates, newest at the top.
type candHeap []candidate

func (h candHeap) less(i, j int) bool { return newer(h[i].key, h[i].id, h[j].key, h[j].id) }

func (h candHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
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
// one core for the page rebuilds that are most of its time.
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

	var cands []candidate
	for _, b := range sn.blocks {
		if q.Start != 0 && b.meta.MaxStart < q.Start || q.End != 0 && b.meta.MinStart > q.End {
			continue
		}
		set, err := querySet(b, &q)
		if err != nil {
			return nil, err
		}
		add := func(o uint32) {
			if q.Start != 0 && b.tMax[o] < q.Start || q.End != 0 && b.tMin[o] > q.End {
				return
			}
			cands = append(cands, candidate{b.ids[o], b.tMin[o]})
		}
		if set.all {
			for o := range b.ids {
				add(uint32(o))
			}
		} else {
			for _, o := range set.ords {
				add(o)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	for _, h := range sn.heads {
		h.each(func(id model.TraceID, t *headTrace) bool {
			for _, sp := range t.spans {
				if q.MatchSpan(sp) {
					cands = append(cands, candidate{id, t.minStart})
					break
				}
			}
			return true
		})
	}
	// Candidates come off a heap newest first: usually only a few dozen are needed of many thousands.
	h := candHeap(cands)
	h.init()

	seen := make(map[model.TraceID]bool)
	var out []store.TraceSummary
	batch := make([]candidate, 0, readAhead)
	loaded := make([][]*model.Span, readAhead)
	errs := make([]error, readAhead)
	for len(h) > 0 {
		// The next few candidates that may still enter the results are read from their blocks at once (rebuilding
		// a page is most of a search's time), then taken in order, so the answer is the one a candidate at a time
		// gives; at most readAhead-1 traces are read in vain when the results fill up within a batch.
		batch = batch[:0]
		for len(h) > 0 && len(batch) < readAhead {
			c := h[0]
			if len(out) >= limit {
				// A candidate's trace starts no later than its key, so once the last result is newer than the
				// candidate's key (ties broken by trace ID, as the results are), no later candidate can displace it.
				last := out[len(out)-1]
				if newer(last.Start, last.TraceID, c.key, c.id) {
					break
				}
			}
			h.pop()
			if !seen[c.id] {
				seen[c.id] = true
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
			wg.Go(func() { loaded[i], errs[i] = s.trace(sn, batch[i].id) })
		}
		loaded[0], errs[0] = s.trace(sn, batch[0].id)
		wg.Wait()
		for i, c := range batch {
			spans, err := loaded[i], errs[i]
			loaded[i] = nil
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(spans, q.MatchSpan) {
				continue
			}
			sum := store.Summarize(c.id, spans)
			j := sort.Search(len(out), func(j int) bool { return newer(sum.Start, sum.TraceID, out[j].Start, out[j].TraceID) })
			out = slices.Insert(out, j, sum)
			if len(out) > limit {
				out = out[:limit]
			}
		}
	}
	return out, nil
}
