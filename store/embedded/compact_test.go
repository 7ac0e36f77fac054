package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/store/memstore"
	"github.com/weftrace/weft/wal"
)

// TestPostingUnion checks the union of one term's posting lists from many inputs against a map: every ordinal
// once, in order, with the smallest minimum and largest maximum duration bucket of the lists that hold it. It runs
// terms one after another on one postingUnion, as mergeTerms does, so that a buffer reused too early shows; and
// it runs them pairwise only, dense only (for more than two lists), and as mergeTerms chooses, which mixes both.
func TestPostingUnion(t *testing.T) {
	for _, every := range []int{-1, 1 << 30, 0} {
		t.Run(fmt.Sprintf("denseEvery=%d", every), func(t *testing.T) { testPostingUnion(t, every) })
	}
}

func testPostingUnion(t *testing.T, every int) {
	r := rand.New(rand.NewPCG(1, 2))
	u := postingUnion{denseEvery: every}
	for term := range 200 {
		k := 1 + r.IntN(40)
		durs := term%2 == 0
		type want struct{ lo, hi uint8 }
		expect := map[uint32]want{}
		u.reset()
		for range k {
			n := r.IntN(300)
			if term%7 == 0 {
				n = 0
			}
			seen := map[uint32]bool{}
			var l postingList
			for range n {
				o := uint32(r.IntN(1000))
				if seen[o] {
					continue
				}
				seen[o] = true
				l.ords = append(l.ords, o)
			}
			slices.Sort(l.ords)
			if durs {
				l.dmin, l.dmax = make([]uint8, 0, len(l.ords)), make([]uint8, 0, len(l.ords))
			}
			for _, o := range l.ords {
				var lo, hi uint8
				if durs {
					lo, hi = uint8(r.IntN(20)), uint8(20+r.IntN(20))
					l.dmin, l.dmax = append(l.dmin, lo), append(l.dmax, hi)
				}
				if w, ok := expect[o]; ok {
					lo, hi = min(lo, w.lo), max(hi, w.hi)
				}
				expect[o] = want{lo, hi}
			}
			u.add(l)
		}
		got := u.union()
		keys := make([]uint32, 0, len(expect))
		for o := range expect {
			keys = append(keys, o)
		}
		slices.Sort(keys)
		if !slices.Equal(got.ords, keys) && !(len(got.ords) == 0 && len(keys) == 0) {
			t.Fatalf("term %d (%d lists): ordinals %v, want %v", term, k, got.ords, keys)
		}
		if !durs {
			if got.dmin != nil || got.dmax != nil {
				t.Fatalf("term %d: duration buckets for lists without them", term)
			}
			continue
		}
		if len(got.dmin) != len(keys) || len(got.dmax) != len(keys) {
			t.Fatalf("term %d: %d and %d duration buckets for %d ordinals", term, len(got.dmin), len(got.dmax), len(keys))
		}
		for i, o := range keys {
			if w := expect[o]; got.dmin[i] != w.lo || got.dmax[i] != w.hi {
				t.Fatalf("term %d: ordinal %d buckets %d..%d, want %d..%d", term, o, got.dmin[i], got.dmax[i], w.lo, w.hi)
			}
		}
	}
}

// TestOpenFinishesAnInterruptedCompaction puts the disk in the two states a crash during a compaction can leave
// and opens the store: with the merged block renamed into place and its inputs still there, Open deletes the
// inputs (else every span in them would be answered twice); with the merged block not yet renamed, Open keeps the
// inputs. Either way the answers equal the reference store's and the compaction list is gone.
func TestOpenFinishesAnInterruptedCompaction(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(31, now)
	g.Spread = 60e9
	rng := rand.New(rand.NewPCG(31, 32))
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	oracle := memstore.New()
	var traces [][]*model.Span
	for i := range 4 {
		traces = append(traces, writeHead(t, s, oracle, g, rng, i, 300, 3)...)
	}
	inputs := map[string][]byte{}
	var names []string
	for _, b := range s.blocks {
		raw, err := os.ReadFile(b.path)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(b.path)] = raw
		names = append(names, filepath.Base(b.path))
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(s.blocks) != 1 {
		t.Fatalf("%d blocks after compaction, want 1", len(s.blocks))
	}
	merged := filepath.Base(s.blocks[0].path)
	if _, err := os.Stat(filepath.Join(dir, compactFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a finished compaction left its list: %v", err)
	}
	s.Close()
	mergedRaw, err := os.ReadFile(filepath.Join(dir, merged))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		renamed bool // the merged block is in place
		blocks  int  // after Open
	}{{"after the rename", true, 1}, {"before the rename", false, len(names)}} {
		t.Run(tc.name, func(t *testing.T) {
			for name, raw := range inputs {
				if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.Remove(filepath.Join(dir, merged))
			if tc.renamed {
				err = os.WriteFile(filepath.Join(dir, merged), mergedRaw, 0o644)
			} else {
				err = os.WriteFile(filepath.Join(dir, merged+".tmp"), mergedRaw, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			list := strings.Join(append([]string{merged}, names...), "\n") + "\n"
			if err := os.WriteFile(filepath.Join(dir, compactFile), []byte(list), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(s.blocks) != tc.blocks {
				t.Fatalf("%d blocks open, want %d", len(s.blocks), tc.blocks)
			}
			if _, err := os.Stat(filepath.Join(dir, compactFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the compaction list is still there: %v", err)
			}
			compareWithOracle(t, tc.name, s, oracle, traces, now)
		})
	}
}

// TestCompactMergesLeftoversWhenIdle: heads' blocks below the fan-in stay as they are while heads keep coming, and
// are merged by the first pass after one in which no head was written.
func TestCompactMergesLeftoversWhenIdle(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(41, now)
	rng := rand.New(rand.NewPCG(41, 42))
	o := testOptions()
	o.CompactFanIn = 4
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oracle := memstore.New()
	var traces [][]*model.Span
	for i := range 3 {
		traces = append(traces, writeHead(t, s, oracle, g, rng, i, 200, 2)...)
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(s.blocks) != 3 {
		t.Fatalf("%d blocks after a pass that followed new heads, want the 3 heads' blocks", len(s.blocks))
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(s.blocks) != 1 || s.blocks[0].meta.Level != 1 {
		t.Fatalf("%d blocks after an idle pass (first of level %d), want one of level 1", len(s.blocks), s.blocks[0].meta.Level)
	}
	compareWithOracle(t, "leftovers merged", s, oracle, traces, now)
	if err := s.Compact(); err != nil { // nothing left to do: the merged block stays
		t.Fatal(err)
	}
	if len(s.blocks) != 1 || s.blocks[0].meta.Level != 1 {
		t.Fatalf("a further idle pass rewrote the merged block: %d blocks, level %d", len(s.blocks), s.blocks[0].meta.Level)
	}
}

// TestOpenDropsAnEmptyCompactionList: a list cut short before its first name (a crash while it was written) names
// nothing to finish; Open removes it and opens the store.
func TestOpenDropsAnEmptyCompactionList(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, compactFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, compactFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the empty list is still there: %v", err)
	}
}

// BenchmarkCompactCompacted merges blocks that compaction wrote (column pages and a column index), as compaction's
// second level does: four of 100,000 spans, each merged from four heads' blocks of 25,000. It reports what
// BenchmarkCompact does.
func BenchmarkCompactCompacted(b *testing.B) {
	g := spangen.New(4, time.Now().UnixNano())
	s, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1, CompactFanIn: 4, CompactSpans: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var paths []string
	var before int64
	for range 4 {
		var group []*block
		for range 4 {
			h := newHead()
			spans := g.Spans(25_000)
			for i := 0; i < len(spans); i += 1000 {
				batch := spans[i:min(i+1000, len(spans))]
				h.write(batch, wal.Encode(batch))
			}
			blk, err := writeBlock(s.newBlockPath(), h)
			if err != nil {
				b.Fatal(err)
			}
			blk.refs.Add(1)
			group = append(group, blk)
		}
		s.blocks = append(s.blocks[:0], group...)
		if err := s.merge(group); err != nil {
			b.Fatal(err)
		}
		nb := s.blocks[0]
		s.blocks = s.blocks[:0]
		p := filepath.Join(b.TempDir(), "src.blk")
		if err := os.Rename(nb.path, p); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
		before += nb.size
		nb.release()
	}
	b.Run("blocks=4", func(b *testing.B) { benchmarkMerge(b, s, paths, before) })
}

// benchmarkMerge merges copies of the block files at paths (before bytes in all) with s.merge, and reports the
// CPU per span merged and the bytes per span before and after.
func benchmarkMerge(b *testing.B, s *Store, paths []string, before int64) {
	var spans int
	var after int64
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		var group []*block
		for _, p := range paths {
			raw, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			cp := s.newBlockPath()
			if err := os.WriteFile(cp, raw, 0o644); err != nil {
				b.Fatal(err)
			}
			blk, err := openBlock(cp)
			if err != nil {
				b.Fatal(err)
			}
			blk.refs.Add(1) // merge releases the group's hold
			group = append(group, blk)
		}
		s.mu.Lock()
		s.blocks = append(s.blocks[:0], group...)
		s.mu.Unlock()
		runtime.GC()
		b.StartTimer()
		c0 := cpuTime()
		if err := s.merge(group); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		b.StopTimer()
		s.mu.Lock()
		nb := s.blocks[0]
		spans, after = nb.meta.Spans, nb.size
		s.blocks = s.blocks[:0]
		s.mu.Unlock()
		nb.drop(nil)
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(spans)/float64(b.N), "cpu-µs/span")
	b.ReportMetric(float64(before)/float64(spans), "before-B/span")
	b.ReportMetric(float64(after)/float64(spans), "after-B/span")
}

// TestTermCursor reads term chunks in both forms (three streams, and joined into rows as head blocks and version 1
// blocks hold them): every term's text, renumbered ordinals and duration buckets; then every prefix of each
// stream, and each stream with one byte spoiled, read to the end or an error, never a panic, and a chunk whose
// streams have bytes left over refused.
func TestTermCursor(t *testing.T) {
	type term struct {
		text string
		ords []uint32
		durs []byte
	}
	terms := []term{{"Nfoo", []uint32{1, 3, 4}, nil}, {"Oa\x00b", []uint32{0, 2}, []byte{1, 2, 5, 6}},
		{"Sx", nil, nil}, {"Ocheckout\x00GET", []uint32{7}, []byte{9, 9}}, {"Tok", []uint32{300}, nil}}
	var heads, deltas, durs []byte
	for _, tm := range terms {
		heads = binary.AppendUvarint(heads, uint64(len(tm.text)))
		heads = append(heads, tm.text...)
		heads = binary.AppendUvarint(heads, uint64(len(tm.ords)))
		prev := uint32(0)
		for _, o := range tm.ords {
			deltas = binary.AppendUvarint(deltas, uint64(o-prev))
			prev = o
		}
		durs = append(durs, tm.durs...)
	}
	rows, err := joinChunk(heads, deltas, durs)
	if err != nil {
		t.Fatal(err)
	}
	ordMap := make([]uint32, 301)
	for i := range ordMap {
		ordMap[i] = uint32(2 * i)
	}
	cursor := func(h, o, d []byte, split bool) *termCursor {
		c := &termCursor{b: &block{}, ordMap: ordMap, heads: h, split: split}
		if split {
			c.deltas, c.durs = o, d
		}
		return c
	}
	readAll := func(c *termCursor) ([]term, error) {
		var got []term
		for {
			if err := c.next(); err != nil {
				return got, err
			}
			if c.done {
				return got, nil
			}
			got = append(got, term{string(c.term), slices.Clone(c.ords), slices.Clone(c.durBuckets)})
		}
	}
	for _, split := range []bool{true, false} {
		h := rows
		if split {
			h = heads
		}
		got, err := readAll(cursor(h, deltas, durs, split))
		if err != nil {
			t.Fatalf("split=%v: %v", split, err)
		}
		if len(got) != len(terms) {
			t.Fatalf("split=%v: %d terms, want %d", split, len(got), len(terms))
		}
		for i, tm := range terms {
			want := term{tm.text, nil, tm.durs}
			for _, o := range tm.ords {
				want.ords = append(want.ords, 2*o)
			}
			g := got[i]
			if g.text != want.text || !slices.Equal(g.ords, want.ords) || !slices.Equal(g.durs, want.durs) ||
				(g.durs == nil) != (want.durs == nil) {
				t.Fatalf("split=%v term %d: %q %v %v, want %q %v %v", split, i, g.text, g.ords, g.durs, want.text,
					want.ords, want.durs)
			}
		}
	}
	if _, err := readAll(cursor(heads, append(slices.Clone(deltas), 1), durs, true)); err == nil {
		t.Errorf("a posting delta left over in a chunk was not refused")
	}
	if _, err := readAll(cursor(heads, deltas, append(slices.Clone(durs), 1), true)); err == nil {
		t.Errorf("a duration bucket left over in a chunk was not refused")
	}
	streams := [][]byte{heads, deltas, durs, rows}
	for s, st := range streams {
		for n := range len(st) {
			for _, spoil := range []bool{false, true} {
				parts := slices.Clone(streams)
				b := slices.Clone(st)
				if spoil {
					b[n] = 0xff
				} else {
					b = b[:n]
				}
				parts[s] = b
				if s == 3 {
					readAll(cursor(parts[3], nil, nil, false))
				} else {
					readAll(cursor(parts[0], parts[1], parts[2], true))
				}
			}
		}
	}
}

// TestMergeKeepsEverySpan merges blocks and compares the merged block with its inputs trace by trace: the spans
// decoded from the merged block must equal, exactly (resources included), those decoded from the inputs, and its
// dependency edges those of a head's block written from those spans. Traces are split over the inputs
// (their parts joined by the page writer, their edges found again from spans reported without attributes) or
// whole in one (edges copied). It merges heads' blocks (row pages in, column pages out), then merged blocks
// (column pages in), as compaction's levels do.
func TestMergeKeepsEverySpan(t *testing.T) {
	g := spangen.New(21, time.Now().UnixNano())
	g.Extras = true
	rng := rand.New(rand.NewPCG(21, 22))
	s, err := Open(t.TempDir(), Options{Logger: quiet(), CompactInterval: -1, CompactFanIn: 4, CompactSpans: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const heads = 8
	// Each trace goes whole to one head, or is dealt over two or three neighbouring ones (a trace cut by a head
	// cut), its spans in shuffled batches.
	parts := make([][]*model.Span, heads)
	split := 0
	for range 400 {
		tr := g.Trace()
		first, n := rng.IntN(heads), 1
		if rng.IntN(3) == 0 {
			n = 2 + rng.IntN(2)
			split++
		}
		for _, sp := range tr {
			h := min(first+rng.IntN(n), heads-1)
			parts[h] = append(parts[h], sp)
		}
	}
	var group []*block
	for _, spans := range parts {
		h := newHead()
		for _, b := range batches(rng, spans, 5) {
			h.write(b, wal.Encode(b))
		}
		blk, err := writeBlock(s.newBlockPath(), h)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, blk)
	}
	merge := func(group []*block) *block {
		t.Helper()
		want := map[model.TraceID][]*model.Span{}
		var all []*model.Span
		for _, b := range group {
			for id, spans := range blockTraces(t, b) {
				want[id] = append(want[id], spans...)
				all = append(all, spans...)
			}
			b.refs.Add(1) // merge releases the group's hold
		}
		// The edges of the traces' spans in the inputs, found by writing them all in one head's block.
		ref := newHead()
		for _, b := range batches(rng, all, 7) {
			ref.write(b, wal.Encode(b))
		}
		refBlock, err := writeBlock(filepath.Join(t.TempDir(), "ref.blk"), ref)
		if err != nil {
			t.Fatal(err)
		}
		wantEdges := blockEdges(t, refBlock)
		refBlock.release()
		s.blocks = append(s.blocks[:0], group...)
		if err := s.merge(group); err != nil {
			t.Fatal(err)
		}
		nb := s.blocks[0]
		s.blocks = s.blocks[:0]
		got := blockTraces(t, nb)
		if len(got) != len(want) {
			t.Fatalf("merged block holds %d traces, its inputs %d", len(got), len(want))
		}
		for id, spans := range want {
			if !reflect.DeepEqual(sortSpans(got[id]), sortSpans(spans)) {
				t.Fatalf("trace %s: merged block's %d spans differ from the inputs' %d", id, len(got[id]), len(spans))
			}
		}
		gotEdges := blockEdges(t, nb)
		for id := range want {
			if !slices.Equal(gotEdges[id], wantEdges[id]) {
				t.Fatalf("trace %s: merged block's edges %v, its spans' %v", id, gotEdges[id], wantEdges[id])
			}
		}
		return nb
	}
	if split == 0 {
		t.Fatal("no trace split over heads")
	}
	var level1 []*block
	for i := 0; i < heads; i += 4 {
		level1 = append(level1, merge(group[i:i+4]))
	}
	for _, b := range level1 {
		if len(b.meta.Pages) < 3 {
			t.Fatalf("a merged block of %d pages: the test wants its cursors to move from page to page", len(b.meta.Pages))
		}
	}
	merge(level1)
}

// blockTraces decodes every trace of b.
func blockTraces(t *testing.T, b *block) map[model.TraceID][]*model.Span {
	t.Helper()
	out := map[model.TraceID][]*model.Span{}
	c, tc := newPageCache(1<<20), newTraceCache(0)
	for ord, id := range b.ids {
		spans, err := b.traceSpans(c, tc, ord)
		if err != nil {
			t.Fatalf("block %s trace %s: %v", b.path, id, err)
		}
		out[id] = spans
	}
	return out
}

// blockEdges reads the dependency edges b stores for each trace, as sorted "parent child calls errors" lines.
func blockEdges(t *testing.T, b *block) map[model.TraceID][]string {
	t.Helper()
	er, err := b.edgeReader()
	if err != nil || er == nil {
		t.Fatalf("block %s: no edges (%v)", b.path, err)
	}
	out := map[model.TraceID][]string{}
	for _, id := range b.ids {
		var lines []string
		if err := er.next(func(e traceEdge) {
			lines = append(lines, fmt.Sprintf("%s %s %d %d", b.meta.Services[e.parent], b.meta.Services[e.child], e.calls, e.errors))
		}); err != nil {
			t.Fatalf("block %s edges: %v", b.path, err)
		}
		slices.Sort(lines)
		out[id] = lines
	}
	return out
}
