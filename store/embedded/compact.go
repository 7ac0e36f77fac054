package embedded

import (
	"bytes"
	"fmt"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/wal"
)

// Compact merges runs of small blocks, adjacent in time, into blocks of up to CompactSpans spans, until no run of
// CompactFanIn blocks fits. Traces split across the merged blocks (spans that arrived minutes apart) become whole
// again. It runs in the background every CompactInterval; calling it directly is safe.
func (s *Store) Compact() error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	for {
		group := s.pickCompaction()
		if group == nil {
			return nil
		}
		if err := s.merge(group); err != nil {
			return err
		}
	}
}

// pickCompaction finds the oldest run of at least CompactFanIn consecutive blocks of one level whose spans add up
// to at most CompactSpans. Merging only blocks of one level bounds how often a span is rewritten: with heads of h
// spans, once at every level (h*fanIn, h*fanIn^2, ... up to CompactSpans), rather than again each time a new
// head joins a growing block.
func (s *Store) pickCompaction() []*block {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil
	}
	for i := range s.blocks {
		total := 0
		j := i
		for ; j < len(s.blocks) && s.blocks[j].meta.Level == s.blocks[i].meta.Level &&
			total+s.blocks[j].meta.Spans <= s.o.CompactSpans; j++ {
			total += s.blocks[j].meta.Spans
		}
		if j-i >= s.o.CompactFanIn {
			group := make([]*block, j-i)
			copy(group, s.blocks[i:j])
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
	ord    int
	page   int
	src    *wal.Source
}

func (c *cursor) id() model.TraceID { return c.b.ids[c.ord] }

// run is the current trace's records, its page read and prepared for the page writer when not already.
func (c *cursor) run(pw *wal.PageWriter) (srcRun, error) {
	p := int(c.b.tPage[c.ord])
	if c.src == nil || c.page != p {
		raw, err := c.b.readPage(p)
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

func (s *Store) merge(group []*block) error {
	defer func() {
		for _, b := range group {
			b.release()
		}
	}()
	t0 := time.Now()
	bw, err := newBlockWriter(s.newBlockPath(), true)
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
		for _, c := range curs {
			if c.id() == low {
				r, err := c.run(bw.pw)
				if err != nil {
					bw.abort()
					return fmt.Errorf("embedded: compaction reading %s: %w", c.b.path, err)
				}
				runs = append(runs, r)
				c.ord++
			}
			if c.ord < len(c.b.ids) {
				live = append(live, c)
			}
		}
		curs = live
		if err := bw.addTrace(low, runs); err != nil {
			bw.abort()
			return fmt.Errorf("embedded: compaction: %w", err)
		}
	}
	nb, err := bw.finish(walSeg, level+1)
	if err != nil {
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
		b.drop()
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
		b.drop()
	}
	return nil
}
