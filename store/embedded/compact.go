package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/wal"
)

// Compact merges runs of small blocks, adjacent in time, into blocks of up to CompactSpans spans, until no run of
// CompactFanIn blocks fits. Traces split across the merged blocks (spans that arrived minutes apart) become whole
// again. It runs in the background every CompactInterval; calling it directly is safe.
//
// When no head has been written to a block since the previous pass (ingest has gone quiet), it also merges the
// heads' blocks that are left below the fan-in, each run of them on its own: the last heads before a pause would
// otherwise stay in the heads' form, which takes more than twice the bytes, until more heads came to join them.
func (s *Store) Compact() error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.mu.RLock()
	heads := s.heads
	s.mu.RUnlock()
	idle := heads == s.passHeads
	s.passHeads = heads
	for {
		group := s.pickCompaction(false)
		if group == nil && idle {
			group = s.pickCompaction(true)
		}
		if group == nil {
			return nil
		}
		if err := s.merge(group); err != nil {
			return err
		}
	}
}

// pickCompaction finds the oldest run of consecutive blocks of one level, CompactFanIn heads' worth at least,
// whose spans add up to at most CompactSpans. Merging only blocks of one level bounds how often a span is
// rewritten: with heads of h spans, once at every level (h*fanIn, h*fanIn^2, ... up to CompactSpans), rather than
// again each time a new head joins a growing block. A block that is one of the n parts a head was written as
// counts as 1/n of a head, so that splitting heads adds no level. With leftovers it finds instead the oldest run
// of heads' blocks (level 0), one block or more, below the fan-in or not.
func (s *Store) pickCompaction(leftovers bool) []*block {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil
	}
	for i := range s.blocks {
		level := s.blocks[i].meta.Level
		if leftovers && level != 0 {
			continue
		}
		total, heads, j := 0, 0.0, i
		for ; j < len(s.blocks) && s.blocks[j].meta.Level == level &&
			(leftovers && j == i || total+s.blocks[j].meta.Spans <= s.o.CompactSpans); j++ {
			total += s.blocks[j].meta.Spans
			heads += 1 / float64(max(s.blocks[j].meta.Parts, 1))
		}
		if leftovers || heads >= float64(s.o.CompactFanIn)-1e-9 {
			group := slices.Clone(s.blocks[i:j])
			for _, b := range group {
				b.refs.Add(1)
			}
			return group
		}
	}
	return nil
}

// cursor walks one input block's traces in ID order, a page at a time.
type cursor struct {
	b      *block
	shared []uint32 // the block's dictionary as global string ids of the block being written
	terms  *termCursor
	edges  *edgeReader // opened at the first trace whose edges are copied
	// services are the global string ids of the block's services (meta.Services, which its edges index), and
	// addEdge appends an edge of the block to the block writer's with them: found once a block, not twice an
	// edge (a trace has many).
	services []uint32
	addEdge  func(traceEdge)
	ord      int
	page     int
	src      *wal.Source
	buf      pageBuf // the page src reads, reused for the next: the page writer copies what it takes
}

func (c *cursor) id() model.TraceID { return c.b.ids[c.ord] }

// edgeSource is the input a trace's dependency edges are copied from: trace ordinal ord of cursor c (nil c: none).
type edgeSource struct {
	c   *cursor
	ord int
}

// copyEdges gives the trace the block writer just copied the edges of input trace ord.
func (c *cursor) copyEdges(bw *blockWriter, ord int) error {
	if c.edges == nil {
		er, err := c.b.edgeReader()
		if err != nil {
			return err
		}
		c.edges = er
		c.services = bw.pw.InternAll(c.b.meta.Services)
		c.addEdge = func(e traceEdge) {
			// edgeReader.next checked the indexes against the block's services.
			bw.edges = append(bw.edges, traceEdge{parent: c.services[e.parent], child: c.services[e.child],
				calls: e.calls, errors: e.errors})
		}
	}
	bw.edgeStart = append(bw.edgeStart, uint32(len(bw.edges)))
	err := c.edges.skipTo(ord)
	if err == nil {
		err = c.edges.next(c.addEdge)
	}
	if err != nil {
		return fmt.Errorf("embedded: block %s edges: %w", c.b.path, err)
	}
	return nil
}

// run is the current trace's records, its page read and prepared for the page writer when not already.
func (c *cursor) run(pw *wal.PageWriter) (srcRun, error) {
	p := int(c.b.tPage[c.ord])
	if c.src == nil || c.page != p {
		raw, err := c.b.readPage(p, &c.buf)
		if err != nil {
			return srcRun{}, err
		}
		bt, err := wal.ParseBatch(raw, c.b.dict)
		if err != nil {
			return srcRun{}, err
		}
		c.src, c.page = pw.Source(bt, c.shared), p
	}
	return srcRun{c.src, c.b.pos(c.ord), int(c.b.tEnd[c.ord])}, nil
}

// termCursor walks one input block's index terms in order, their ordinals renumbered to the merged block's. It
// reads a chunk's terms straight from its streams (term heads, posting deltas, duration buckets; in a chunk of the
// row form the three are one stream, each term's parts in turn), decoding each posting list once: putting the
// streams back in the row form (joinChunk) and parsing that (nextTerm) read every delta three times.
type termCursor struct {
	b      *block
	ordMap []uint32 // input trace ordinal → merged block's
	chunk  int
	// heads, deltas and durs are what is left of the chunk's streams (split); in the row form everything is in
	// heads.
	heads, deltas, durs []byte
	split, done         bool
	term                []byte // the chunk's bytes (a chunk is read into memory of its own, never reused)
	ords                []uint32
	durBuckets          []byte // an operation term's smallest, then largest, duration buckets; nil for others
}

// load reads the next chunk; done when there is none.
func (c *termCursor) load() error {
	b := c.b
	if len(c.deltas) != 0 || len(c.durs) != 0 { // the chunk before ended with bytes its terms did not use
		return errBadBlock
	}
	if c.chunk >= len(b.meta.Chunks) {
		c.done = true
		return nil
	}
	i := c.chunk
	c.chunk++
	if !b.meta.ColumnIndex {
		raw, err := b.chunk(i)
		c.heads, c.deltas, c.durs, c.split = raw, nil, nil, false
		return err
	}
	ref := b.meta.Chunks[i]
	if ref.Off < 0 || ref.Len < 0 || ref.Off+ref.Len > b.size {
		return errors.New("term chunk outside the file")
	}
	z := make([]byte, ref.Len)
	if _, err := b.f.ReadAt(z, ref.Off); err != nil {
		return err
	}
	st, err := wal.ReadStreams(z, 3, 1<<28)
	if err != nil {
		return fmt.Errorf("term chunk %d: %w", i, err)
	}
	c.heads, c.deltas, c.durs, c.split = st[0], st[1], st[2], true
	return nil
}

func (c *termCursor) next() error {
	for len(c.heads) == 0 {
		if err := c.load(); err != nil || c.done {
			return err
		}
	}
	h := c.heads
	l, k := binary.Uvarint(h)
	if k <= 0 || l == 0 || l > uint64(len(h)-k) {
		return errBadBlock
	}
	c.term = h[k : k+int(l) : k+int(l)]
	h = h[k+int(l):]
	n, k := binary.Uvarint(h)
	if k <= 0 {
		return errBadBlock
	}
	h = h[k:]
	deltas, split := h, c.split
	if split {
		deltas = c.deltas
	}
	if n > uint64(len(deltas)) {
		return errBadBlock
	}
	ords, ordMap := c.ords[:0], c.ordMap
	prev, p := uint64(0), 0
	for range n {
		var v uint64
		if p < len(deltas) && deltas[p] < 0x80 { // most deltas: one byte
			v = uint64(deltas[p])
			p++
		} else {
			var k int
			if v, k = binary.Uvarint(deltas[p:]); k <= 0 {
				return errBadBlock
			}
			p += k
		}
		if prev += v; prev >= uint64(len(ordMap)) {
			return errBadBlock
		}
		ords = append(ords, ordMap[prev])
	}
	c.ords = ords
	if split {
		c.deltas = deltas[p:]
	} else {
		h = h[p:]
	}
	c.durBuckets = nil
	if c.term[0] == termOperation {
		durs := h
		if split {
			durs = c.durs
		}
		if uint64(len(durs)) < 2*n {
			return errBadBlock
		}
		c.durBuckets = durs[: 2*n : 2*n]
		if split {
			c.durs = durs[2*n:]
		} else {
			h = h[2*n:]
		}
	}
	c.heads = h
	return nil
}

// termHeap is a min-heap of term cursors by their current term: a compaction of the parts of many heads merges
// dozens of indexes, and a term is mostly in one of them (an attribute value seen in one part only), so finding
// the least term among all cursors at every term cost more than the rest of the merge of terms.
type termHeap []*termCursor

func (h termHeap) less(i, j int) bool { return bytes.Compare(h[i].term, h[j].term) < 0 }

func (h termHeap) down(i int) { siftDown(h, i) }

func (h termHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// mergeTerms writes the merged block's index from its inputs': the union of every term's posting lists, the
// ordinals renumbered (they stay in order, as the merged block's traces are in the inputs' order) and, for an
// operation term of a trace found in several inputs, the widest duration buckets.
func (bw *blockWriter) mergeTerms(curs []*termCursor) error {
	h := make(termHeap, 0, len(curs))
	for _, c := range curs {
		if err := c.next(); err != nil {
			return err
		}
		if !c.done {
			h = append(h, c)
			h.up(len(h) - 1)
		}
	}
	var u postingUnion
	var same []*termCursor // the cursors at the least term
	for len(h) > 0 {
		// Take every cursor at the least term off the heap.
		same = same[:0]
		low := h[0].term
		for len(h) > 0 && (len(same) == 0 || bytes.Equal(h[0].term, low)) {
			same = append(same, h[0])
			n := len(h) - 1
			h[0] = h[n]
			h = h[:n]
			h.down(0)
		}
		if len(same) == 1 { // the common case: the term is in one input; its list needs no union
			c := same[0]
			n := len(c.ords)
			var dmin, dmax []uint8
			if c.durBuckets != nil {
				dmin, dmax = c.durBuckets[:n], c.durBuckets[n:]
			}
			appendTerm(bw, low, c.ords, dmin, dmax)
		} else {
			u.reset()
			for _, c := range same {
				n := len(c.ords)
				l := postingList{ords: c.ords}
				if c.durBuckets != nil {
					l.dmin, l.dmax = c.durBuckets[:n], c.durBuckets[n:]
				}
				u.add(l)
			}
			all := u.union()
			appendTerm(bw, low, all.ords, all.dmin, all.dmax)
		}
		for _, c := range same {
			if err := c.next(); err != nil {
				return err
			}
			if !c.done {
				h = append(h, c)
				h.up(len(h) - 1)
			}
		}
	}
	return nil
}

// postingUnion merges one term's posting lists from a compaction's inputs; its buffers are reused from term to
// term. A compaction of the heads' parts merges dozens of indexes, and most of a block's terms (attribute values
// that a few traces share) hold a few ordinals in each of a dozen inputs: those are gathered, with their duration
// buckets, as one word each and sorted, which costs far less than merging the lists pairwise in rounds (a dozen
// short merges, each a pass of its own). Two lists are merged in one pass. A term whose lists, together, hold at
// least one ordinal in denseEvery of the range they span (a service, a status, an attribute value many traces
// have) is united in one pass over a bitmap instead: every ordinal is marked in it and the bitmap swept in order,
// each ordinal copied once and no comparisons between lists; the sweep reads a word for 64 ordinals of the range.
type postingUnion struct {
	lists []postingList
	out   postingList
	words []uint64 // the sort's: ordinal << 16 | smallest << 8 | largest duration bucket

	// The bitmap pass: bit o of set marks ordinal o as in the union of the current term, with its duration
	// buckets in dmin[o] and dmax[o]. The sweep clears the bits it reads, so set is all zeros between terms.
	set        []uint64
	dmin, dmax []uint8
	denseEvery int // 0: the default, 64; negative: never (tests)
}

func (u *postingUnion) reset() { u.lists = u.lists[:0] }

func (u *postingUnion) add(l postingList) { u.lists = append(u.lists, l) }

// union returns the union of the lists added since reset; it stays valid until the next reset. With
// duration buckets only when every list has them.
func (u *postingUnion) union() postingList {
	switch len(u.lists) {
	case 0:
		return postingList{}
	case 1:
		l := u.lists[0]
		if l.dmin == nil {
			l.dmax = nil
		}
		return l
	}
	durs := true
	total, lo, hi := 0, uint32(math.MaxUint32), uint32(0)
	for _, l := range u.lists {
		durs = durs && l.dmin != nil
		if n := len(l.ords); n > 0 {
			total += n
			lo, hi = min(lo, l.ords[0]), max(hi, l.ords[n-1])
		}
	}
	out := &u.out
	out.ords, out.dmin, out.dmax = out.ords[:0], out.dmin[:0], out.dmax[:0]
	every := u.denseEvery
	if every == 0 {
		every = 64
	}
	switch {
	case total == 0:
	case len(u.lists) == 2:
		a, b := u.lists[0], u.lists[1]
		out.ords, out.dmin, out.dmax = unionDurations(out.ords, out.dmin, out.dmax,
			a.ords, a.dmin, a.dmax, b.ords, b.dmin, b.dmax, durs)
	case every > 0 && total*every >= int(hi-lo)+1:
		u.unionDense(lo, hi, durs)
	default:
		u.unionSorted(durs)
	}
	if !durs {
		return postingList{ords: out.ords}
	}
	return *out
}

// unionSorted is union for lists that are sparse in the range they span: every ordinal, with its buckets, in one
// word, sorted, the words of one ordinal then made one.
func (u *postingUnion) unionSorted(durs bool) {
	words := u.words[:0]
	for _, l := range u.lists {
		for i, o := range l.ords {
			w := uint64(o) << 16
			if durs {
				w |= uint64(l.dmin[i])<<8 | uint64(l.dmax[i])
			}
			words = append(words, w)
		}
	}
	slices.Sort(words)
	u.words = words
	out := &u.out
	for i := 0; i < len(words); {
		o, dmin, dmax := words[i]>>16, uint8(words[i]>>8), uint8(words[i])
		// Equal ordinals sort by their smallest minimum first; the largest maximum is any one's.
		for i++; i < len(words) && words[i]>>16 == o; i++ {
			dmax = max(dmax, uint8(words[i]))
		}
		out.ords = append(out.ords, uint32(o))
		if durs {
			out.dmin, out.dmax = append(out.dmin, dmin), append(out.dmax, dmax)
		}
	}
}

// unionDense is union for lists whose ordinals all lie in lo..hi and fill a good part of that range.
func (u *postingUnion) unionDense(lo, hi uint32, durs bool) {
	if n := int(hi) + 1; len(u.dmin) < n {
		n = max(n, 2*len(u.dmin))
		u.set = make([]uint64, (n+63)/64)
		u.dmin, u.dmax = make([]uint8, n), make([]uint8, n)
	}
	set, dmin, dmax := u.set, u.dmin, u.dmax
	total := 0
	for _, l := range u.lists {
		total += len(l.ords)
		if !durs {
			for _, o := range l.ords {
				set[o>>6] |= 1 << (o & 63)
			}
			continue
		}
		for i, o := range l.ords {
			if w, b := set[o>>6], uint64(1)<<(o&63); w&b == 0 {
				set[o>>6] = w | b
				dmin[o], dmax[o] = l.dmin[i], l.dmax[i]
			} else {
				dmin[o], dmax[o] = min(dmin[o], l.dmin[i]), max(dmax[o], l.dmax[i])
			}
		}
	}
	out := &u.out
	out.ords = slices.Grow(out.ords, total)
	for w := lo >> 6; w <= hi>>6; w++ {
		x := set[w]
		if x == 0 {
			continue
		}
		set[w] = 0
		for x != 0 {
			o := w<<6 | uint32(bits.TrailingZeros64(x))
			x &= x - 1
			out.ords = append(out.ords, o)
			if durs {
				out.dmin, out.dmax = append(out.dmin, dmin[o]), append(out.dmax, dmax[o])
			}
		}
	}
}

// unionDurations merges two sorted posting lists into out; where both hold an ordinal its duration buckets (with
// durs) are the smaller minimum and the larger maximum.
func unionDurations(out []uint32, omin, omax []uint8, a []uint32, amin, amax []uint8, b []uint32, bmin, bmax []uint8, durs bool) ([]uint32, []uint8, []uint8) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			if durs {
				omin, omax = append(omin, amin[i]), append(omax, amax[i])
			}
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			if durs {
				omin, omax = append(omin, bmin[j]), append(omax, bmax[j])
			}
			j++
		default:
			out = append(out, a[i])
			if durs {
				omin, omax = append(omin, min(amin[i], bmin[j])), append(omax, max(amax[i], bmax[j]))
			}
			i++
			j++
		}
	}
	return out, omin, omax
}

func (s *Store) merge(group []*block) error {
	defer func() {
		for _, b := range group {
			b.release()
		}
	}()
	t0 := time.Now()
	var inBytes int64
	for _, b := range group {
		inBytes += b.size
	}
	bw, err := newBlockWriter(s.newBlockPath(), true, s.spares, inBytes/3) // merged, blocks shrink about so much
	if err != nil {
		return fmt.Errorf("embedded: compaction: %w", err)
	}
	curs := make([]*cursor, 0, len(group))
	walSeg, level := 0, 0
	for _, b := range group {
		if len(b.ids) > 0 {
			curs = append(curs, &cursor{b: b, shared: bw.pw.InternAll(b.dict)})
		}
		walSeg = max(walSeg, b.meta.WAL)
		level = max(level, b.meta.Level)
	}
	// The merged block's dictionary: every input's, most used first. Strings local to the inputs' pages stay
	// local to the merged block's pages.
	seen := make([]bool, bw.pw.Strings())
	var dict []uint32
	for rank := 0; ; rank++ {
		more := false
		for _, c := range curs {
			if rank < len(c.shared) {
				more = true
				if g := c.shared[rank]; !seen[g] {
					seen[g] = true
					dict = append(dict, g)
				}
			}
		}
		if !more {
			break
		}
	}
	bw.setDict(dict)
	total := 0
	for _, b := range group {
		total += b.meta.Spans
	}
	bw.finalPages = total*s.o.CompactFanIn > s.o.CompactSpans
	// The merged block's index is its inputs' merged (mergeTerms), and its meta their union: the spans are
	// copied, not indexed again.
	var terms []*termCursor
	ops := map[opMeta]bool{}
	svcs, keys := map[string]bool{}, map[string]bool{}
	for i, c := range curs {
		tc := &termCursor{b: c.b, ordMap: make([]uint32, len(c.b.ids))}
		c.terms = tc
		terms = append(terms, tc)
		m := &c.b.meta
		if i == 0 || m.MinStart < bw.meta.MinStart {
			bw.meta.MinStart = m.MinStart
		}
		if i == 0 || m.MaxStart > bw.meta.MaxStart {
			bw.meta.MaxStart = m.MaxStart
		}
		if i == 0 || m.MaxEnd > bw.meta.MaxEnd {
			bw.meta.MaxEnd = m.MaxEnd
		}
		for _, svc := range m.Services {
			svcs[svc] = true
		}
		for _, o := range m.Ops {
			ops[o] = true
		}
		for _, k := range m.Keys {
			keys[k] = true
		}
	}
	bw.meta.Services = sortedKeys(svcs)
	bw.meta.Keys = sortedKeys(keys)
	for o := range ops {
		bw.meta.Ops = append(bw.meta.Ops, o)
	}
	bw.merged = func() error { return bw.mergeTerms(terms) }
	var runs []srcRun
	for len(curs) > 0 {
		low := curs[0].id()
		for _, c := range curs[1:] {
			if id := c.id(); bytes.Compare(id[:], low[:]) < 0 {
				low = id
			}
		}
		runs = runs[:0]
		live := curs[:0]
		ord := uint32(len(bw.traceIDs))
		mn, mx := int64(math.MaxInt64), int64(math.MinInt64)
		var from edgeSource // the one input holding the trace, if one does and has its edges
		for _, c := range curs {
			if c.id() == low {
				if len(runs) == 0 && c.b.meta.EdgesLen > 0 {
					from = edgeSource{c, c.ord}
				} else {
					from = edgeSource{}
				}
				r, err := c.run(bw.pw)
				if err != nil {
					bw.abort()
					return fmt.Errorf("embedded: compaction reading %s: %w", c.b.path, err)
				}
				runs = append(runs, r)
				c.terms.ordMap[c.ord] = ord
				mn, mx = min(mn, c.b.tMin[c.ord]), max(mx, c.b.tMax[c.ord])
				c.ord++
			}
			if c.ord < len(c.b.ids) {
				live = append(live, c)
			}
		}
		curs = live
		if err := bw.copyTrace(low, runs, mn, mx, from); err != nil {
			bw.abort()
			return fmt.Errorf("embedded: compaction: %w", err)
		}
	}
	if err := bw.finishFile(walSeg, level+1); err != nil {
		return err
	}
	names := []string{filepath.Base(bw.path)}
	for _, b := range group {
		names = append(names, filepath.Base(b.path))
	}
	if err := writeList(s.dir, compactFile, names); err != nil {
		os.Remove(bw.tmp)
		return fmt.Errorf("embedded: compaction: %w", err)
	}
	nb, err := bw.commit()
	if err != nil {
		if e := removeList(s.dir, compactFile); e != nil {
			s.log.Warn("removing the list of a failed compaction", "err", e)
		}
		return err
	}
	s.mu.Lock()
	in := map[*block]bool{}
	for _, b := range group {
		in[b] = true
	}
	kept := s.blocks[:0]
	for _, b := range s.blocks {
		if !in[b] {
			kept = append(kept, b)
		}
	}
	s.blocks = append(kept, nb)
	s.sortBlocks()
	s.updateGauges()
	s.mu.Unlock()
	var before int64
	for _, b := range group {
		before += b.size
		b.drop(s.spares)
	}
	// The inputs are gone: the list has done its work. Should this fail, the next Open finds the inputs gone.
	if err := syncDir(s.dir); err == nil {
		err = removeList(s.dir, compactFile)
		if err != nil {
			s.log.Warn("removing the list of a finished compaction", "err", err)
		}
	}
	s.m.compactions.Inc()
	s.log.Debug("blocks compacted", "inputs", len(group), "spans", nb.meta.Spans, "bytes_before", before,
		"bytes_after", nb.size, "took", time.Since(t0))
	return nil
}

// ApplyRetention deletes the blocks whose every span started before now minus the retention.
func (s *Store) ApplyRetention() error {
	cutoff := s.o.Now().Add(-s.o.Retention).UnixNano()
	s.compactMu.Lock() // not in the middle of a compaction that reads these blocks
	defer s.compactMu.Unlock()
	s.mu.Lock()
	var gone []*block
	kept := s.blocks[:0]
	for _, b := range s.blocks {
		if b.meta.MaxStart < cutoff {
			gone = append(gone, b)
		} else {
			kept = append(kept, b)
		}
	}
	s.blocks = kept
	s.updateGauges()
	s.mu.Unlock()
	for _, b := range gone {
		s.log.Info("block past retention deleted", "block", b.path, "spans", b.meta.Spans)
		b.drop(s.spares)
	}
	return nil
}

// compactFile names, while a compaction puts its merged block in place of its inputs, the merged block (the first
// line) and the inputs (the others). A crash after the merged block is renamed into place and before every input
// is deleted leaves the list, and Open finishes the compaction: it deletes the inputs that remain, which would
// otherwise be read beside the merged block, every span they hold answered twice. A crash before the rename
// leaves the merged block at its temporary name, which Open deletes, and the inputs whole; the list then names a
// block that is not there, and Open only removes it.
const compactFile = "compact.pending"

// finishCompaction completes, at Open, a compaction that a crash interrupted (see compactFile).
func finishCompaction(dir string) error {
	names, err := readList(dir, compactFile)
	if err != nil || names == nil {
		return err
	}
	if len(names) > 0 && blockName(names[0]) {
		if _, err := os.Stat(filepath.Join(dir, names[0])); err == nil {
			inputs := slices.DeleteFunc(names[1:], func(n string) bool { return n == names[0] })
			if err := removeBlocks(dir, inputs); err != nil {
				return err
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return removeList(dir, compactFile)
}
