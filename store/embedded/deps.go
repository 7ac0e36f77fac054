package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/wal"
)

// Dependencies are precomputed per trace when a block is written: the edges section holds, for every trace of the
// block, its calls between services (an edge for each span whose parent, in the same trace, belongs to another
// service) with their counts. A query uses them for the traces that started and ended inside its window and lie
// in no other part of the store (another block, the head); the others, and blocks written before the section
// existed, are loaded whole as before.

// edgeSpan is what the block writer keeps of a span of the trace being written, to find its edges.
type edgeSpan struct {
	id, parent model.SpanID
	ref        int // the parent's index among the trace's distinct span IDs, or -1
	svc        uint32
	err        bool
	shared     bool
}

// traceEdge is a call edge between two services within one trace (services as global string ids while written,
// as indexes into the block's services once read).
type traceEdge struct {
	parent, child uint32
	calls, errors uint32
}

// noteSpan keeps what traceEdges needs of a span.
func (bw *blockWriter) noteSpan(in *wal.SpanInfo, svc uint32) {
	bw.spanRows = append(bw.spanRows, edgeSpan{id: in.SpanID, parent: in.Parent, ref: in.ParentRef, svc: svc,
		err: in.Status == model.StatusError, shared: in.Flags&model.FlagShared != 0})
}

// edgeVisit is the visitor of a trace that compaction copies but whose edges it must find again (its parts came
// from several blocks).
func (bw *blockWriter) edgeVisit(in *wal.SpanInfo) {
	_, svc, _ := bw.pw.Resource(in.Resource)
	bw.noteSpan(in, svc)
}

// traceEdges finds the edges of the spans noted for the trace just copied, as store.Dependencies counts them:
// the same rules as addEdges, with parents found among the trace's spans in this block.
func (bw *blockWriter) traceEdges() {
	rows := bw.spanRows
	bw.edgeStart = append(bw.edgeStart, uint32(len(bw.edges)))
	if bw.emptyService == math.MaxUint32 {
		bw.emptyService = bw.pw.Intern("")
	}
	if bw.byID == nil || len(bw.byID) > 4096 {
		bw.byID = make(map[model.SpanID]int32)
	} else {
		clear(bw.byID)
	}
	distinct := bw.distinct[:0]
	for i := range rows {
		r := &rows[i]
		j, ok := bw.byID[r.id]
		if !ok {
			distinct = append(distinct, r.id)
			bw.byID[r.id] = int32(i)
		} else if r.shared && !rows[j].shared {
			// Zipkin's shared spans: the server side (marked shared) is the child of the client side.
			bw.byID[r.id] = int32(i)
		}
	}
	bw.distinct = distinct
	first := len(bw.edges)
	for i := range rows {
		r := &rows[i]
		pid := r.parent
		if r.ref >= 0 {
			if r.ref >= len(distinct) {
				continue
			}
			pid = distinct[r.ref]
		}
		if pid.IsZero() {
			continue
		}
		j, ok := bw.byID[pid]
		if !ok || int(j) == i {
			continue
		}
		ps, cs := rows[j].svc, r.svc
		if ps == cs || ps == bw.emptyService || cs == bw.emptyService {
			continue
		}
		k := first
		for ; k < len(bw.edges) && (bw.edges[k].parent != ps || bw.edges[k].child != cs); k++ {
		}
		if k == len(bw.edges) {
			bw.edges = append(bw.edges, traceEdge{parent: ps, child: cs})
		}
		bw.edges[k].calls++
		if r.err {
			bw.edges[k].errors++
		}
	}
	bw.spanRows = rows[:0]
}

// writeEdges writes the edges section, four streams so that zstd finds what repeats (most edges have one call and
// no error): per trace its edge count; per edge the indexes of its services in the meta's sorted list; per edge
// its calls; per edge its errors (all uvarints, each stream but the last preceded by its length). The meta's
// services must be final.
func (bw *blockWriter) writeEdges() {
	idx := make(map[uint32]uint64, len(bw.meta.Services))
	for i, svc := range bw.meta.Services {
		idx[bw.pw.Intern(svc)] = uint64(i)
	}
	bw.edgeStart = append(bw.edgeStart, uint32(len(bw.edges)))
	var counts, pairs, calls, errs []byte
	for t := 0; t+1 < len(bw.edgeStart); t++ {
		es := bw.edges[bw.edgeStart[t]:bw.edgeStart[t+1]]
		counts = binary.AppendUvarint(counts, uint64(len(es)))
		for _, e := range es {
			pairs = binary.AppendUvarint(pairs, idx[e.parent])
			pairs = binary.AppendUvarint(pairs, idx[e.child])
			calls = binary.AppendUvarint(calls, uint64(e.calls))
			errs = binary.AppendUvarint(errs, uint64(e.errors))
		}
	}
	b := binary.AppendUvarint(nil, uint64(len(counts)))
	b = append(b, counts...)
	b = binary.AppendUvarint(b, uint64(len(pairs)))
	b = append(b, pairs...)
	b = binary.AppendUvarint(b, uint64(len(calls)))
	b = append(b, calls...)
	b = append(b, errs...)
	z := bw.compress(b)
	bw.meta.EdgesOff, bw.meta.EdgesLen = bw.off, int64(len(z))
	bw.write(z)
}

// edgeReader walks a block's edges section trace by trace, in ordinal order; nothing of it is kept in memory
// between queries (on generated data with many services a trace has ~18 edges: ~100 MB for 10M spans).
type edgeReader struct {
	st       [4][]byte // counts, service pairs, calls, errors
	ord      int       // the next trace ordinal
	services int
}

// edgeReader opens the block's edges section; nil (and no error) when the block has none.
func (b *block) edgeReader() (*edgeReader, error) {
	if b.meta.EdgesLen == 0 {
		return nil, nil
	}
	raw, err := b.readSection(b.meta.EdgesOff, b.meta.EdgesLen)
	if err != nil {
		return nil, fmt.Errorf("embedded: block %s edges: %w", b.path, err)
	}
	r := &edgeReader{services: len(b.meta.Services)}
	for i := 0; i < 3; i++ {
		l, k := binary.Uvarint(raw)
		if k <= 0 || l > uint64(len(raw)-k) {
			return nil, fmt.Errorf("embedded: block %s: %w", b.path, errBadEdges)
		}
		r.st[i], raw = raw[k:k+int(l)], raw[k+int(l):]
	}
	r.st[3] = raw
	return r, nil
}

var errBadEdges = errors.New("bad edges section")

func (r *edgeReader) uvarint(i int) (uint64, error) {
	v, k := binary.Uvarint(r.st[i])
	if k <= 0 {
		return 0, errBadEdges
	}
	r.st[i] = r.st[i][k:]
	return v, nil
}

// next reads the edges of the next trace, calling f (when not nil) with each.
func (r *edgeReader) next(f func(traceEdge)) error {
	n, err := r.uvarint(0)
	if err != nil {
		return err
	}
	r.ord++
	for range n {
		var v [4]uint64
		for j, st := range [4]int{1, 1, 2, 3} {
			if v[j], err = r.uvarint(st); err != nil {
				return err
			}
		}
		if v[0] >= uint64(r.services) || v[1] >= uint64(r.services) || v[2] > math.MaxUint32 || v[3] > math.MaxUint32 {
			return errBadEdges
		}
		if f != nil {
			f(traceEdge{parent: uint32(v[0]), child: uint32(v[1]), calls: uint32(v[2]), errors: uint32(v[3])})
		}
	}
	return nil
}

// skipTo reads past the traces before ordinal ord, counting the varints' last bytes rather than decoding them.
func (r *edgeReader) skipTo(ord int) error {
	for r.ord < ord {
		n, err := r.uvarint(0)
		if err != nil {
			return err
		}
		r.ord++
		if n == 0 {
			continue
		}
		for j, per := range [4]uint64{0, 2, 1, 1} {
			if j == 0 {
				continue
			}
			if r.st[j], err = skipVarints(r.st[j], n*per); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipVarints returns b after its first n varints.
func skipVarints(b []byte, n uint64) ([]byte, error) {
	for i, c := range b {
		if c < 0x80 {
			if n--; n == 0 {
				return b[i+1:], nil
			}
		}
	}
	return nil, errBadEdges
}

// elsewhere reports whether trace id has spans in a part of the snapshot other than block b.
func (sn *snapshot) elsewhere(b *block, id model.TraceID) bool {
	for _, o := range sn.blocks {
		if o != b && o.find(id) >= 0 {
			return true
		}
	}
	for _, h := range sn.heads {
		if h.has(id) {
			return true
		}
	}
	return false
}

// Dependencies returns the service call graph of spans that started between start and end (0 for no bound):
// an edge for each span whose parent, in the same trace, belongs to another service.
func (s *Store) Dependencies(ctx context.Context, start, end int64) ([]store.Dependency, error) {
	defer s.observe("dependencies", time.Now())
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()
	if end == 0 {
		end = math.MaxInt64
	}
	seen := map[model.TraceID]bool{}
	edges := store.DependencyCounts{}
	add := edges.Add
	visit := func(id model.TraceID) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		spans, err := s.trace(sn, id)
		if err != nil {
			return err
		}
		addEdges(add, spans, start, end)
		return ctx.Err()
	}
	for _, b := range sn.blocks {
		if b.meta.MaxStart < start || b.meta.MinStart > end {
			continue
		}
		er, err := b.edgeReader()
		if err != nil {
			s.log.Warn("dependency edges unreadable; loading the block's traces instead", "err", err)
			er = nil
		}
		// Stored edges are summed by the block's service indexes, then added by name once per pair.
		nsvc := uint64(len(b.meta.Services))
		stored := map[uint64]*[2]int64{}
		addStored := func(e traceEdge) {
			k := uint64(e.parent)*nsvc + uint64(e.child)
			c := stored[k]
			if c == nil {
				c = new([2]int64)
				stored[k] = c
			}
			c[0] += int64(e.calls)
			c[1] += int64(e.errors)
		}
		for o, id := range b.ids {
			if b.tMax[o] < start || b.tMin[o] > end {
				continue
			}
			// A trace wholly inside the window and in this block only: its stored edges are its answer.
			if er != nil && b.tMin[o] >= start && b.tMax[o] <= end && !sn.elsewhere(b, id) {
				if err := er.skipTo(o); err == nil {
					if err = er.next(addStored); err == nil {
						continue
					}
				}
				// A damaged section: this trace and the rest of the block are loaded whole (the edges of this
				// trace read before the damage were not added, since a damaged trace's read stops before f).
				s.log.Warn("dependency edges unreadable; loading the block's traces instead", "block", b.path)
				er = nil
			}
			if err := visit(id); err != nil {
				return nil, err
			}
		}
		for k, c := range stored {
			add(b.meta.Services[k/nsvc], b.meta.Services[k%nsvc], c[0], c[1])
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	var ids []model.TraceID
	for _, h := range sn.heads {
		// The view, so that reading the head's traces below decodes each record once.
		if _, err := h.scan(); err != nil {
			return nil, err
		}
		h.each(func(id model.TraceID, minStart, maxStart int64) bool {
			if maxStart >= start && minStart <= end {
				ids = append(ids, id)
			}
			return true
		})
	}
	for _, id := range ids {
		if err := visit(id); err != nil {
			return nil, err
		}
	}
	return edges.List(), nil
}

func addEdges(add func(ps, cs string, calls, errs int64), spans []*model.Span, start, end int64) {
	byID := make(map[model.SpanID]*model.Span, len(spans))
	for _, sp := range spans {
		// Zipkin's shared spans: the server side (marked shared) is the child of the client side.
		if prev, ok := byID[sp.SpanID]; !ok || sp.Flags&model.FlagShared != 0 && prev.Flags&model.FlagShared == 0 {
			byID[sp.SpanID] = sp
		}
	}
	for _, sp := range spans {
		if sp.ParentID.IsZero() || sp.Start < start || sp.Start > end {
			continue
		}
		parent, ok := byID[sp.ParentID]
		if !ok || parent == sp {
			continue
		}
		ps, cs := parent.Service(), sp.Service()
		if ps == cs || ps == "" || cs == "" {
			continue
		}
		var errs int64
		if sp.IsError() {
			errs = 1
		}
		add(ps, cs, 1, errs)
	}
}
