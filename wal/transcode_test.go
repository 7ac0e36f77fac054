package wal

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
)

// pagedTrace is where a trace landed in the pages a test wrote.
type pagedTrace struct {
	page   int
	from   Pos
	recEnd int
}

type runRef struct {
	src *Source
	run Run
}

// writePages copies every run of srcs into pages of about pageSize bytes, trace by trace in ID order, and checks
// that what the visitor reports of each span is what the span holds (want, by span ID).
func writePages(t *testing.T, w *PageWriter, runs []runRef, pageSize int, want map[model.SpanID]*model.Span) ([][]byte, map[model.TraceID]pagedTrace) {
	t.Helper()
	slices.SortStableFunc(runs, func(a, b runRef) int { return bytes.Compare(a.run.TraceID[:], b.run.TraceID[:]) })
	var pages [][]byte
	where := map[model.TraceID]pagedTrace{}
	var visited []SpanInfo
	visit := func(in *SpanInfo) {
		c := *in
		c.Attrs = slices.Clone(in.Attrs)
		visited = append(visited, c)
	}
	for i := 0; i < len(runs); {
		id := runs[i].run.TraceID
		if w.Size() >= pageSize {
			pages = append(pages, w.AppendPage(nil))
		}
		from := w.Pos()
		for ; i < len(runs) && runs[i].run.TraceID == id; i++ {
			r := runs[i]
			if err := w.AddRun(r.src, r.run.From, r.run.RecEnd, visit); err != nil {
				t.Fatal(err)
			}
		}
		where[id] = pagedTrace{page: len(pages), from: from, recEnd: w.Pos().Rec}
	}
	pages = append(pages, w.AppendPage(nil))
	n := 0
	for _, s := range want {
		_ = s
		n++
	}
	if len(visited) != n {
		t.Fatalf("visited %d spans, want %d", len(visited), n)
	}
	// The visitor sees spans in page order; match them by start, name and attributes.
	for _, in := range visited {
		res, svc, _ := w.Resource(in.Resource)
		found := false
		for _, s := range want {
			if s.SpanID != in.SpanID || s.Flags != in.Flags || in.ParentRef < 0 && s.ParentID != in.Parent {
				continue
			}
			if s.Start != in.Start || s.Duration != in.Duration || s.Name != w.String(in.Name) ||
				s.Kind != in.Kind || s.StatusCode != in.Status || s.Service() != w.String(svc) ||
				!reflect.DeepEqual(*s.Resource, *res) || len(s.Attrs) != len(in.Attrs) {
				continue
			}
			same := true
			for j, a := range in.Attrs {
				v := s.Attrs[j].Value
				if s.Attrs[j].Key != w.String(a.Key) || a.Int != (v.Type == model.TypeInt) ||
					a.Int && a.Num != v.Int() || !a.Int && w.String(a.Str) != v.AsString() {
					same = false
				}
			}
			if same {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("visited span %+v matches no span written", in)
		}
	}
	return pages, where
}

func checkPages(t *testing.T, pages [][]byte, dict []string, where map[model.TraceID]pagedTrace, traces map[model.TraceID][]*model.Span) {
	t.Helper()
	parsed := make([]*Batch, len(pages))
	for i, p := range pages {
		bt, err := ParseBatch(p, dict)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		parsed[i] = bt
	}
	for id, tr := range traces {
		pt, ok := where[id]
		if !ok {
			t.Fatalf("trace %s not written", id)
		}
		got, err := parsed[pt.page].Range(pt.from, pt.recEnd)
		if err != nil {
			t.Fatalf("trace %s: %v", id, err)
		}
		if !reflect.DeepEqual(sortByID(got), sortByID(tr)) {
			t.Fatalf("trace %s: got %d spans, want %d (or contents differ)", id, len(got), len(tr))
		}
	}
}

func sortByID(spans []*model.Span) []model.Span {
	out := make([]model.Span, len(spans))
	for i, s := range spans {
		out[i] = *s
		out[i].Resource = nil
	}
	slices.SortFunc(out, func(a, b model.Span) int {
		if c := bytes.Compare(a.SpanID[:], b.SpanID[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Start, b.Start)
	})
	return out
}

// TestPageWriterCopiesRuns encodes traces split over shuffled batches (as requests from several services bring
// them), copies their runs into pages with a shared dictionary, then copies those pages again into new pages (as
// compaction does), and checks that every trace decodes to its spans both times.
func TestPageWriterCopiesRuns(t *testing.T) {
	g := spangen.New(3, time.Now().UnixNano())
	g.Extras = true
	rng := rand.New(rand.NewPCG(1, 2))
	traces := map[model.TraceID][]*model.Span{}
	bySpan := map[model.SpanID]*model.Span{}
	var all []*model.Span
	for range 60 {
		tr := g.Trace()
		traces[tr[0].TraceID] = tr
		all = append(all, tr...)
		for _, s := range tr {
			bySpan[s.SpanID] = s
		}
	}
	// Shuffle in blocks, so batches hold runs of several spans of a trace and traces interleave.
	for i := 0; i+8 < len(all); i += 8 {
		j := rng.IntN(len(all)-8) / 8 * 8
		for k := 0; k < 8; k++ {
			all[i+k], all[j+k] = all[j+k], all[i+k]
		}
	}
	var recs []*Record
	for len(all) > 0 {
		n := min(len(all), 1+rng.IntN(200))
		recs = append(recs, Encode(all[:n]))
		all = all[n:]
	}
	w := NewPageWriter()
	runs, dict := sourceRuns(t, w, recs)
	if len(dict) == 0 {
		t.Fatal("no string in more than one batch: the test does not exercise the dictionary")
	}
	w.SetDict(dict)
	dictStrs := make([]string, len(dict))
	for i, gid := range dict {
		dictStrs[i] = w.String(gid)
	}
	pages, where := writePages(t, w, runs, 4<<10, bySpan)
	if len(pages) < 3 {
		t.Fatalf("%d pages: the test wants several", len(pages))
	}
	checkPages(t, pages, dictStrs, where, traces)

	// Again from the pages, with a dictionary of half of the first one, as compaction does.
	w2 := NewPageWriter()
	sharedMap := w2.InternAll(dictStrs)
	w2.SetDict(sharedMap[:len(sharedMap)/2])
	dict2 := dictStrs[:len(dictStrs)/2]
	runs = runs[:0]
	for id, pt := range where {
		bt, err := ParseBatch(pages[pt.page], dictStrs)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, runRef{w2.Source(bt, sharedMap), Run{TraceID: id, From: pt.from, RecEnd: pt.recEnd}})
	}
	pages2, where2 := writePages(t, w2, runs, 8<<10, bySpan)
	checkPages(t, pages2, dict2, where2, traces)
}

// sourceRuns makes every record a source of w and gives their runs, in order, and the dictionary compaction would
// choose: the global ids of the strings in more than one record.
func sourceRuns(t *testing.T, w *PageWriter, recs []*Record) ([]runRef, []uint32) {
	t.Helper()
	var runs []runRef
	for _, rec := range recs {
		bt, err := ParseBatch(rec.Payload(), nil)
		if err != nil {
			t.Fatal(err)
		}
		src := w.Source(bt, nil)
		for _, r := range rec.Runs {
			runs = append(runs, runRef{src, r})
		}
	}
	var dict []uint32
	for gid := range uint32(w.Strings()) {
		if w.Count(gid) > 1 {
			dict = append(dict, gid)
		}
	}
	return runs, dict
}

// TestPageWriterNoAttrs copies the same runs (spans with events, links and values of every type, traces split
// over batches) with AddRun and with AddRunNoAttrs: the pages must be the same bytes, and the visitor must be told
// the same of every span but its attributes, which AddRunNoAttrs leaves empty.
func TestPageWriterNoAttrs(t *testing.T) {
	g := spangen.New(5, time.Now().UnixNano())
	g.Extras = true
	rng := rand.New(rand.NewPCG(5, 6))
	var all []*model.Span
	for range 80 {
		all = append(all, g.Trace()...)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var recs []*Record
	for len(all) > 0 {
		n := min(len(all), 1+rng.IntN(150))
		recs = append(recs, Encode(all[:n]))
		all = all[n:]
	}
	copyAll := func(noAttrs bool) ([][]byte, []SpanInfo) {
		w := NewPageWriter()
		runs, dict := sourceRuns(t, w, recs)
		w.SetDict(dict)
		slices.SortStableFunc(runs, func(a, b runRef) int { return bytes.Compare(a.run.TraceID[:], b.run.TraceID[:]) })
		var seen []SpanInfo
		visit := func(in *SpanInfo) {
			c := *in
			c.Attrs = slices.Clone(in.Attrs)
			seen = append(seen, c)
		}
		var pages [][]byte
		for _, r := range runs {
			if w.Size() >= 4<<10 {
				pages = append(pages, w.AppendPage(nil))
			}
			add := w.AddRun
			if noAttrs {
				add = w.AddRunNoAttrs
			}
			if err := add(r.src, r.run.From, r.run.RecEnd, visit); err != nil {
				t.Fatal(err)
			}
		}
		return append(pages, w.AppendPage(nil)), seen
	}
	pages, seen := copyAll(false)
	pagesNo, seenNo := copyAll(true)
	if !slices.EqualFunc(pages, pagesNo, bytes.Equal) {
		t.Fatal("AddRunNoAttrs wrote other pages than AddRun")
	}
	if len(seen) != len(seenNo) || len(seen) == 0 {
		t.Fatalf("visitor called %d times with AddRunNoAttrs, %d with AddRun", len(seenNo), len(seen))
	}
	withAttrs := 0
	for i := range seen {
		if len(seenNo[i].Attrs) != 0 {
			t.Fatalf("span %d: AddRunNoAttrs reported %d attributes", i, len(seenNo[i].Attrs))
		}
		if len(seen[i].Attrs) > 0 {
			withAttrs++
		}
		a, b := seen[i], seenNo[i]
		a.Attrs, b.Attrs = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("span %d: AddRun reported %+v, AddRunNoAttrs %+v", i, a, b)
		}
	}
	if withAttrs == 0 {
		t.Fatal("no span had attributes: the test checks nothing of them")
	}
}

// TestPageWriterRejectsDamage feeds damaged batches to AddRun: it must fail or copy, never panic.
func TestPageWriterRejectsDamage(t *testing.T) {
	g := spangen.New(4, time.Now().UnixNano())
	g.Extras = true
	rec := Encode(g.Spans(300))
	rng := rand.New(rand.NewPCG(5, 6))
	fails := 0
	for i := range 400 {
		raw := slices.Clone(rec.Payload())
		for range 1 + i%4 {
			raw[rng.IntN(len(raw))] ^= byte(1 + rng.IntN(255))
		}
		bt, err := ParseBatch(raw, nil)
		if err != nil {
			continue
		}
		w := NewPageWriter()
		src := w.Source(bt, nil)
		for _, r := range rec.Runs {
			if err := w.AddRun(src, r.From, min(r.RecEnd, len(bt.rec)), nil); err != nil {
				fails++
				break
			}
		}
	}
	if fails == 0 {
		t.Fatal("no damaged batch was refused")
	}
	// A run that starts in the middle of a trace is refused.
	var e Encoder
	tr := g.Trace()
	e.Add(tr[0])
	mid := e.Pos()
	for _, s := range tr[1:] {
		e.Add(s)
	}
	bt, err := ParseBatch(e.AppendTo(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := NewPageWriter()
	if err := w.AddRun(w.Source(bt, nil), mid, e.Pos().Rec, nil); err == nil {
		t.Fatal("a run starting mid-trace was copied")
	}
}

// TestPageWriterJoinsRunsWithSharedSpanIDs joins two runs of a trace where the second repeats a span ID of the
// first (a Zipkin shared span: the server half of a client span) and refers to it as a parent: the joined run's
// parent references must name the same spans.
func TestPageWriterJoinsRunsWithSharedSpanIDs(t *testing.T) {
	res := &model.Resource{Service: "svc"}
	tid := model.TraceID{9}
	mk := func(id, parent byte, start int64, flags model.Flags) *model.Span {
		s := &model.Span{TraceID: tid, SpanID: model.SpanID{id}, Name: "op", Start: start, Duration: 5,
			Resource: res, Flags: flags}
		if parent != 0 {
			s.ParentID = model.SpanID{parent}
		}
		return s
	}
	first := []*model.Span{mk(1, 0, 100, 0), mk(2, 1, 110, 0), mk(3, 2, 120, 0)}
	second := []*model.Span{mk(2, 1, 111, model.FlagShared), mk(4, 2, 130, 0), mk(5, 4, 140, 0), mk(6, 3, 150, 0)}
	w := NewPageWriter()
	w.SetDict(nil)
	for _, part := range [][]*model.Span{first, second} {
		rec := Encode(part)
		bt, err := ParseBatch(rec.Payload(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Runs) != 1 {
			t.Fatalf("%d runs, want 1", len(rec.Runs))
		}
		if err := w.AddRun(w.Source(bt, nil), rec.Runs[0].From, rec.Runs[0].RecEnd, nil); err != nil {
			t.Fatal(err)
		}
	}
	page := w.AppendPage(nil)
	bt, err := ParseBatch(page, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bt.All()
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]*model.Span{}, first...), second...)
	if len(got) != len(want) {
		t.Fatalf("%d spans, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := *got[i], *want[i]
		g.Resource, w.Resource = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("span %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if n := bytes.Count(page, tid[:]); n != 1 {
		t.Fatalf("the trace ID appears %d times in the page, want once (the runs joined)", n)
	}
}

// TestPageWriterJoinsLargeTrace joins one trace from many runs (each a batch of its own, as requests bring a large
// trace's parts), with parents in earlier runs and now and then a span ID repeated (a shared span): big enough
// that the table of its span IDs grows, and, at 40,000 spans, that they go to a map. The page must decode to the
// spans in order.
func TestPageWriterJoinsLargeTrace(t *testing.T) {
	for _, n := range []int{300, 40_000} {
		rng := rand.New(rand.NewPCG(uint64(n), 9))
		res := &model.Resource{Service: "svc"}
		tid := model.TraceID{7, 7}
		spans := make([]*model.Span, n)
		for i := range spans {
			s := &model.Span{TraceID: tid, Name: "op", Start: int64(1000 + i), Duration: int64(1 + rng.IntN(100)),
				Resource: res}
			binary.LittleEndian.PutUint64(s.SpanID[:], rng.Uint64()|1)
			if i > 0 {
				s.ParentID = spans[rng.IntN(i)].SpanID
			}
			if i > 1 && rng.IntN(20) == 0 { // the server half of a client span
				p := spans[rng.IntN(i)]
				s.SpanID, s.ParentID, s.Flags = p.SpanID, p.ParentID, model.FlagShared
			}
			spans[i] = s
		}
		w := NewPageWriter()
		w.SetDict(nil)
		for i := 0; i < n; {
			part := spans[i:min(n, i+1+rng.IntN(400))]
			i += len(part)
			rec := Encode(part)
			bt, err := ParseBatch(rec.Payload(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddRun(w.Source(bt, nil), rec.Runs[0].From, rec.Runs[0].RecEnd, nil); err != nil {
				t.Fatal(err)
			}
		}
		bt, err := ParseBatch(w.AppendPage(nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := bt.All()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d spans: the page has %d", n, len(got))
		}
		for i := range got {
			g, w := *got[i], *spans[i]
			g.Resource, w.Resource = nil, nil
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%d spans: span %d:\n got %+v\nwant %+v", n, i, g, w)
			}
		}
	}
}

// FuzzPageWriter copies whatever parses as a batch, whole, into a page: it must fail or copy, never panic, and a
// page it copies must decode to as many spans as the batch.
func FuzzPageWriter(f *testing.F) {
	g := spangen.New(8, 1e18)
	g.Extras = true
	for i := 0; i < 4; i++ {
		f.Add(AppendSpans(nil, g.Trace()))
	}
	f.Add(AppendSpans(nil, g.Spans(120)))
	f.Add([]byte{0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		bt, err := ParseBatch(b, nil)
		if err != nil {
			return
		}
		w := NewPageWriter()
		src := w.Source(bt, nil)
		w.SetDict(nil)
		if err := w.AddRun(src, Pos{}, len(bt.rec), func(*SpanInfo) {}); err != nil {
			return
		}
		page := w.AppendPage(nil)
		want, werr := bt.All()
		pb, err := ParseBatch(page, nil)
		if err != nil {
			t.Fatalf("a copied page does not parse: %v", err)
		}
		got, err := pb.All()
		if werr == nil && (err != nil || len(got) != len(want)) {
			t.Fatalf("copied page: %d spans (%v), batch %d", len(got), err, len(want))
		}
	})
}

// BenchmarkPageWriter copies 100 batches of 1,000 spans (as the log's records are) into pages of a block, trace
// run by trace run, as the embedded store writes a head: ParseBatch and Source for each batch, then AddRun with
// a visitor.
func BenchmarkPageWriter(b *testing.B) {
	g := spangen.New(9, 1e18)
	var records [][]byte
	var runs [][]Run
	for range 100 {
		var e Encoder
		for _, s := range g.Spans(1000) {
			e.Add(s)
		}
		records = append(records, e.AppendTo(nil))
		runs = append(runs, slices.Clone(e.Runs()))
	}
	visited := 0
	visit := func(*SpanInfo) { visited++ }
	var page []byte
	cpu0 := cpuTime()
	for b.Loop() {
		w := NewPageWriter()
		w.SetDict(nil)
		for i, rec := range records {
			bt, err := ParseBatch(rec, nil)
			if err != nil {
				b.Fatal(err)
			}
			src := w.Source(bt, nil)
			for _, r := range runs[i] {
				if err := w.AddRun(src, r.From, r.RecEnd, visit); err != nil {
					b.Fatal(err)
				}
				if w.Size() > 64<<10 {
					page = w.AppendPage(page[:0])
				}
			}
		}
	}
	// CPU time, not wall time: the machine these run on is shared.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(visited), "cpu-ns/span")
}

// BenchmarkPageWriterHead copies 100 records of 1,000 spans (grouped by service, as requests are) into pages as
// the embedded store writes a head: every record's Source, the dictionary (the strings of more than one record,
// most used first), then every trace's runs in trace ID order, which jump between the records, with a visitor.
// ParseBatch and Source are outside the timing.
func BenchmarkPageWriterHead(b *testing.B) {
	g := spangen.New(9, 1e18)
	var records [][]byte
	type run struct {
		rec int
		r   Run
	}
	var runs []run
	for i := range 100 {
		spans := g.Spans(1000)
		slices.SortStableFunc(spans, func(a, b *model.Span) int { return cmp.Compare(a.Service(), b.Service()) })
		var e Encoder
		for _, s := range spans {
			e.Add(s)
		}
		records = append(records, e.AppendTo(nil))
		for _, r := range e.Runs() {
			runs = append(runs, run{i, r})
		}
	}
	slices.SortStableFunc(runs, func(a, b run) int { return bytes.Compare(a.r.TraceID[:], b.r.TraceID[:]) })
	visited := 0
	visit := func(*SpanInfo) { visited++ }
	var page []byte
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		w := NewPageWriter()
		srcs := make([]*Source, len(records))
		for i, rec := range records {
			bt, err := ParseBatch(rec, nil)
			if err != nil {
				b.Fatal(err)
			}
			srcs[i] = w.Source(bt, nil)
		}
		var dict []uint32
		for gid := range uint32(w.Strings()) {
			if w.Count(gid) > 1 {
				dict = append(dict, gid)
			}
		}
		slices.SortFunc(dict, func(a, b uint32) int { return w.Count(b) - w.Count(a) })
		b.StartTimer()
		cpu0 := cpuTime()
		w.SetDict(dict)
		for _, r := range runs {
			if err := w.AddRun(srcs[r.rec], r.r.From, r.r.RecEnd, visit); err != nil {
				b.Fatal(err)
			}
			if w.Size() > 128<<10 {
				page = w.AppendPage(page[:0])
			}
		}
		cpu += cpuTime() - cpu0
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(visited), "cpu-ns/span")
}

// BenchmarkPageWriterCompact copies the pages of a block of 100,000 spans (written as BenchmarkPageWriterHead
// writes a head) into the pages of another, as compaction merges blocks: a Source for each page with the block's
// dictionary as its shared table, then every trace's run, without a visitor (compaction merges its inputs' indexes
// rather than indexing again). The writer, its dictionary and the pages' parsing are outside the timing.
func BenchmarkPageWriterCompact(b *testing.B) {
	g := spangen.New(9, 1e18)
	w := NewPageWriter()
	type run struct {
		src *Source
		r   Run
	}
	var runs []run
	for range 100 {
		spans := g.Spans(1000)
		slices.SortStableFunc(spans, func(a, b *model.Span) int { return cmp.Compare(a.Service(), b.Service()) })
		var e Encoder
		for _, s := range spans {
			e.Add(s)
		}
		bt, err := ParseBatch(e.AppendTo(nil), nil)
		if err != nil {
			b.Fatal(err)
		}
		src := w.Source(bt, nil)
		for _, r := range e.Runs() {
			runs = append(runs, run{src, r})
		}
	}
	slices.SortStableFunc(runs, func(a, b run) int { return bytes.Compare(a.r.TraceID[:], b.r.TraceID[:]) })
	var dict []uint32
	for gid := range uint32(w.Strings()) {
		if w.Count(gid) > 1 {
			dict = append(dict, gid)
		}
	}
	slices.SortFunc(dict, func(a, b uint32) int { return w.Count(b) - w.Count(a) })
	w.SetDict(dict)
	dictStrs := make([]string, len(dict))
	for i, gid := range dict {
		dictStrs[i] = w.String(gid)
	}
	type trace struct {
		page   int
		from   Pos
		recEnd int
	}
	var pages [][]byte
	var traces []trace
	for i := 0; i < len(runs); {
		if w.Size() > 128<<10 {
			pages = append(pages, w.AppendPage(nil))
		}
		from := w.Pos()
		for id := runs[i].r.TraceID; i < len(runs) && runs[i].r.TraceID == id; i++ {
			if err := w.AddRun(runs[i].src, runs[i].r.From, runs[i].r.RecEnd, nil); err != nil {
				b.Fatal(err)
			}
		}
		traces = append(traces, trace{len(pages), from, w.Pos().Rec})
	}
	pages = append(pages, w.AppendPage(nil))
	var page []byte
	var cpu time.Duration
	spans := 0
	for b.Loop() {
		b.StopTimer()
		w := NewPageWriter()
		shared := w.InternAll(dictStrs)
		w.SetDict(shared)
		bts := make([]*Batch, len(pages))
		for i, p := range pages {
			bt, err := ParseBatch(p, dictStrs)
			if err != nil {
				b.Fatal(err)
			}
			bts[i] = bt
		}
		b.StartTimer()
		cpu0 := cpuTime()
		var src *Source
		for i, tr := range traces {
			if i == 0 || tr.page != traces[i-1].page {
				src = w.Source(bts[tr.page], shared)
			}
			if w.Size() > 128<<10 {
				page = w.AppendPage(page[:0])
			}
			if err := w.AddRun(src, tr.from, tr.recEnd, nil); err != nil {
				b.Fatal(err)
			}
		}
		page = w.AppendPage(page[:0])
		cpu += cpuTime() - cpu0
		for _, bt := range bts {
			spans += bt.n
		}
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans), "cpu-ns/span")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPageWriterFork writes two parts of the same batches at once, each with a fork of the writer that made the
// batches' sources, and checks that each part's pages, and what its visitor saw, are those of a writer that made
// its own sources (as a head split into blocks was written before forks).
func TestPageWriterFork(t *testing.T) {
	g := spangen.New(7, time.Now().UnixNano())
	g.Extras = true // float and bool attributes: their text is interned while copying
	var payloads [][]byte
	var runs []Run
	var recOf []int
	for i := range 6 {
		rec := Encode(g.Spans(150))
		payloads = append(payloads, rec.Payload())
		for _, r := range rec.Runs {
			runs = append(runs, r)
			recOf = append(recOf, i)
		}
	}
	parse := func() []*Batch {
		var bts []*Batch
		for _, p := range payloads {
			bt, err := ParseBatch(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			bts = append(bts, bt)
		}
		return bts
	}
	dictOf := func(w *PageWriter) []uint32 {
		var dict []uint32
		for gid := range uint32(w.Strings()) {
			if w.Count(gid) > 1 {
				dict = append(dict, gid)
			}
		}
		return dict
	}
	// part copies the runs of part k (of 2) into pages, returning them and the visitor's reports, with the strings
	// of their global ids; and the id and text of a string no batch holds, interned last.
	type visited struct {
		info  SpanInfo
		texts []string
	}
	part := func(w *PageWriter, srcs []*Source, k int) ([]byte, []visited, uint32) {
		var pages []byte
		var seen []visited
		visit := func(in *SpanInfo) {
			v := visited{info: *in}
			v.info.Attrs = slices.Clone(in.Attrs)
			v.texts = append(v.texts, w.String(in.Name))
			for _, a := range in.Attrs {
				v.texts = append(v.texts, w.String(a.Key), w.String(a.Str))
			}
			seen = append(seen, v)
		}
		for i, r := range runs {
			if i%2 != k {
				continue
			}
			if err := w.AddRun(srcs[recOf[i]], r.From, r.RecEnd, visit); err != nil {
				t.Error(err)
				return nil, nil, 0
			}
			if w.Size() > 2<<10 {
				pages = w.AppendPage(pages)
			}
		}
		return w.AppendPage(pages), seen, w.Intern("a string of part " + string(rune('0'+k)))
	}

	type result struct {
		pages []byte
		seen  []visited
		extra uint32
	}
	var want [2]result
	for k := range want {
		w := NewPageWriter()
		var srcs []*Source
		for _, bt := range parse() {
			srcs = append(srcs, w.Source(bt, nil))
		}
		w.SetDict(dictOf(w))
		want[k].pages, want[k].seen, want[k].extra = part(w, srcs, k)
	}

	// The dictionary set on the writer before forking (the forks share it, and the sources' references to it,
	// as a head's parts are written), or on each fork (whose references then go through the string's slot).
	for _, before := range []bool{true, false} {
		base := NewPageWriter()
		var srcs []*Source
		for _, bt := range parse() {
			srcs = append(srcs, base.Source(bt, nil))
		}
		dict := dictOf(base)
		if len(dict) == 0 {
			t.Fatal("no string in more than one batch: the test does not exercise the dictionary")
		}
		if before {
			base.SetDict(dict)
		}
		var got [2]result
		done := make(chan int)
		for k := range got {
			f := base.Fork()
			go func() {
				if !before {
					f.SetDict(dict)
				}
				got[k].pages, got[k].seen, got[k].extra = part(f, srcs, k)
				done <- k
			}()
		}
		<-done
		<-done
		for k := range got {
			if !bytes.Equal(got[k].pages, want[k].pages) {
				t.Errorf("dictionary set before forking %v, part %d: the fork's pages differ from those of a writer of its own", before, k)
			}
			if !reflect.DeepEqual(got[k].seen, want[k].seen) {
				t.Errorf("dictionary set before forking %v, part %d: the fork's visitor saw other spans or strings", before, k)
			}
			if got[k].extra != want[k].extra {
				t.Errorf("dictionary set before forking %v, part %d: a new string got id %d in the fork, %d in a writer of its own",
					before, k, got[k].extra, want[k].extra)
			}
		}
		if len(got[0].seen) == 0 || len(got[1].seen) == 0 {
			t.Fatal("a part copied no span")
		}
	}
}

// TestTranscoderNum checks that the transcoder's one-pass varint read takes, copies and fails on what
// binary.Uvarint and binary.Varint would: every length, the tenth byte's overflow, a varint cut short; and that
// uvarint9 (eight bytes in one load, for a trace's start) reads what binary.Uvarint reads.
func TestTranscoderNum(t *testing.T) {
	inputs := [][]byte{{}, {0}, {1}, {0x7f}, {0x80}, {0x80, 0}, {0xff, 0x7f}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2}, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 5}}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.UintN(256))
			if rng.IntN(3) == 0 {
				b[i] &= 0x7f
			}
		}
		inputs = append(inputs, b)
	}
	// The same with more bytes after them, which uvarint9 needs.
	for _, in := range slices.Clone(inputs) {
		inputs = append(inputs, append(slices.Clone(in), 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89))
		inputs = append(inputs, append(slices.Clone(in), 0, 0, 0, 0, 0, 0, 0, 0))
	}
	for _, in := range inputs {
		if v, n := uvarint9(in); n > 0 {
			if wv, wn := binary.Uvarint(in); wv != v || wn != n {
				t.Errorf("% x: uvarint9 read %d (%d bytes), binary.Uvarint %d (%d bytes)", in, v, n, wv, wn)
			}
		} else if len(in) >= 9 {
			if _, wn := binary.Uvarint(in); wn > 0 && wn <= 9 {
				t.Errorf("% x: uvarint9 did not read a varint of %d bytes", in, wn)
			}
		}
		for _, signed := range []bool{false, true} {
			// The reference: the varint's end found first, then decoded (the transcoder before).
			n := 0
			for n < len(in) && n < binary.MaxVarintLen64 && in[n] >= 0x80 {
				n++
			}
			ok := n < len(in) && n < binary.MaxVarintLen64
			var want uint64
			if ok {
				n++
				if signed {
					s, _ := binary.Varint(in[:n])
					want = uint64(s)
				} else {
					want, _ = binary.Uvarint(in[:n])
				}
			}
			tc := &transcoder{w: &PageWriter{}, nums: in}
			got := tc.num(signed, "number")
			if ok != (tc.err == nil) || got != want || ok && (tc.ni != n || !bytes.Equal(tc.w.nums, in[:n])) {
				t.Errorf("% x signed %v: got %d (err %v, read %d, copied % x), want %d (ok %v, read %d)", in, signed,
					got, tc.err, tc.ni, tc.w.nums, want, ok, n)
			}
		}
	}
}

var updatePages = flag.Bool("update-pages", false, "rewrite testdata/pagewriter.sha256 from the current page writer")

// TestPageWriterGolden writes a head's records (testdata/pagewriter.records) into two blocks' pages (runs in trace ID order, a dictionary by
// count), merges the two as compaction does (traces of both joined, a dictionary missing some of the inputs'
// strings), and puts the merged pages in column form; the SHA-256 of every page and of what the visitor reported
// must be testdata/pagewriter.sha256's. Blocks on disk hold these bytes: a change to the page writer that
// changes them is a change of the format (go test -run PageWriterGolden -update-pages, after checking that old pages
// still decode).
func TestPageWriterGolden(t *testing.T) {
	records := goldenRecords(t)
	h := sha256.New()
	note := func(w *PageWriter) func(*SpanInfo) {
		return func(in *SpanInfo) {
			_, svc, res := w.Resource(in.Resource)
			fmt.Fprintf(h, "%s|%s|%d|%d|%d|%d|%x|%x|%d|%d|", w.String(svc), w.String(in.Name), in.Kind, in.Status,
				in.Start, in.Duration, in.SpanID, in.Parent, in.ParentRef, in.Flags)
			for _, a := range append(slices.Clone(in.Attrs), res...) {
				if a.Int {
					fmt.Fprintf(h, "%s=%d,", w.String(a.Key), a.Num)
				} else {
					fmt.Fprintf(h, "%s=%q,", w.String(a.Key), w.String(a.Str))
				}
			}
		}
	}
	type block struct {
		pages  [][]byte
		dict   []string
		traces []model.TraceID
		where  []pagedTrace
	}
	// write copies runs (sorted by trace ID, stably) into pages of about pageSize bytes.
	write := func(w *PageWriter, runs []runRef, pageSize int) block {
		slices.SortStableFunc(runs, func(a, b runRef) int { return bytes.Compare(a.run.TraceID[:], b.run.TraceID[:]) })
		var bl block
		for i := 0; i < len(runs); {
			id := runs[i].run.TraceID
			if w.Size() >= pageSize {
				bl.pages = append(bl.pages, w.AppendPage(nil))
			}
			from := w.Pos()
			for ; i < len(runs) && runs[i].run.TraceID == id; i++ {
				if err := w.AddRun(runs[i].src, runs[i].run.From, runs[i].run.RecEnd, note(w)); err != nil {
					t.Fatal(err)
				}
			}
			bl.traces = append(bl.traces, id)
			bl.where = append(bl.where, pagedTrace{page: len(bl.pages), from: from, recEnd: w.Pos().Rec})
		}
		bl.pages = append(bl.pages, w.AppendPage(nil))
		for _, p := range bl.pages {
			h.Write(p)
		}
		return bl
	}
	var heads [2]block
	for k := range heads {
		w := NewPageWriter()
		var runs []runRef
		for i, rec := range records {
			if i%2 != k && i%5 != 0 {
				continue
			}
			bt, err := ParseBatch(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			src := w.Source(bt, nil)
			var e Encoder
			spans, err := bt.All()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range spans {
				e.Add(s)
			}
			for _, r := range e.Runs() {
				runs = append(runs, runRef{src, r})
			}
		}
		var dict []uint32
		for gid := range uint32(w.Strings()) {
			if w.Count(gid) > 1 {
				dict = append(dict, gid)
			}
		}
		slices.SortFunc(dict, func(a, b uint32) int {
			if c := cmp.Compare(w.Count(b), w.Count(a)); c != 0 {
				return c
			}
			return strings.Compare(w.String(a), w.String(b))
		})
		w.SetDict(dict)
		heads[k] = write(w, runs, 16<<10)
		for _, gid := range dict {
			heads[k].dict = append(heads[k].dict, w.String(gid))
		}
	}
	// The merge: every trace's parts from both blocks, the first block's first.
	w := NewPageWriter()
	var shared [2][]uint32
	for k := range heads {
		shared[k] = w.InternAll(heads[k].dict)
	}
	var dict []uint32
	seen := map[uint32]bool{}
	for rank := 0; rank < max(len(shared[0]), len(shared[1])); rank++ {
		for k := range shared {
			if rank < len(shared[k]) && !seen[shared[k][rank]] && rank%7 != 3 {
				seen[shared[k][rank]] = true
				dict = append(dict, shared[k][rank])
			}
		}
	}
	w.SetDict(dict)
	var runs []runRef
	for k, bl := range heads {
		srcs := make([]*Source, len(bl.pages))
		for i, p := range bl.pages {
			bt, err := ParseBatch(p, bl.dict)
			if err != nil {
				t.Fatal(err)
			}
			srcs[i] = w.Source(bt, shared[k])
		}
		for i, id := range bl.traces {
			pt := bl.where[i]
			runs = append(runs, runRef{srcs[pt.page], Run{TraceID: id, From: pt.from, RecEnd: pt.recEnd}})
		}
	}
	merged := write(w, runs, 32<<10)
	if len(merged.traces) >= len(heads[0].traces)+len(heads[1].traces) {
		t.Fatal("no trace was in both blocks: the test does not join runs")
	}
	for _, better := range []bool{false, true} {
		cw := NewColumnWriter(better)
		first := 0
		for i, p := range merged.pages {
			last := first
			for last < len(merged.traces) && merged.where[last].page == i {
				last++
			}
			col, err := cw.Page(nil, p, merged.traces[first:])
			if err != nil {
				t.Fatal(err)
			}
			h.Write(col)
			if back, err := RowPage(nil, col, merged.traces[first:last]); err != nil || !bytes.Equal(back, p) {
				t.Fatalf("page %d: the column page does not read back (%v)", i, err)
			}
			first = last
		}
	}
	got := fmt.Sprintf("%x\n", h.Sum(nil))
	path := filepath.Join("testdata", "pagewriter.sha256")
	if *updatePages {
		t.Logf("rewriting %s", path)
	}
	if *updatePages {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("pages or visitor reports changed: SHA-256 %s, want %s", strings.TrimSpace(got), strings.TrimSpace(string(want)))
	}
}

// goldenRecords reads the log records of TestPageWriterGolden: 10 of 120 generated spans, every third with
// events, links, causality and odd values, every second grouped by service, zstd-compressed, each preceded by
// its length. They are kept rather than made, so that the test sees the page writer's output change, not the
// encoder's; -update-pages makes them anew.
func goldenRecords(t *testing.T) [][]byte {
	path := filepath.Join("testdata", "pagewriter.records")
	if *updatePages {
		g := spangen.New(11, 1e18)
		var raw []byte
		for i := range 10 {
			g.Extras = i%3 == 0
			spans := g.Spans(120)
			if i%2 == 1 {
				slices.SortStableFunc(spans, func(a, b *model.Span) int { return cmp.Compare(a.Service(), b.Service()) })
			}
			rec := AppendSpans(nil, spans)
			raw = binary.AppendUvarint(raw, uint64(len(rec)))
			raw = append(raw, rec...)
		}
		if err := os.WriteFile(path, zstdBetter.EncodeAll(raw, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	z, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	raw, err := zr.DecodeAll(z, nil) // the golden file is trusted: no cap on what it decodes to
	if err != nil {
		t.Fatal(err)
	}
	var records [][]byte
	for len(raw) > 0 {
		n, k := binary.Uvarint(raw)
		if k <= 0 || n > uint64(len(raw)-k) {
			t.Fatalf("%s is damaged", path)
		}
		records = append(records, raw[k:k+int(n)])
		raw = raw[k+int(n):]
	}
	return records
}
