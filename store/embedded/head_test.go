package embedded

import (
	"reflect"

	"slices"

	"os"
	"path/filepath"
	"strings"

	"errors"

	"math/rand/v2"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/store/memstore"
	"github.com/weftrace/weft/wal"
)

// scribble overwrites everything of spans that a decoder reusing their memory would: names, times, IDs,
// attributes, events, links and resources.
func scribble(spans []*model.Span) {
	junk := model.Attr{Key: "scribbled", Value: model.String("over")}
	for _, s := range spans {
		s.TraceID, s.SpanID, s.ParentID = model.TraceID{0xee}, model.SpanID{0xee}, model.SpanID{}
		s.Name, s.SpanResource, s.StatusMessage = "scribbled", "scribbled", "scribbled"
		s.Start, s.Duration, s.Kind, s.StatusCode = 1, 1, model.KindConsumer, model.StatusOK
		for i := range s.Attrs {
			s.Attrs[i] = junk
		}
		for i := range s.Events {
			s.Events[i].Name = "scribbled"
			for j := range s.Events[i].Attrs {
				s.Events[i].Attrs[j] = junk
			}
		}
		for i := range s.Links {
			s.Links[i].TraceID = model.TraceID{0xee}
		}
		if s.Resource != nil {
			s.Resource.Service = "scribbled"
			for i := range s.Resource.Attrs {
				s.Resource.Attrs[i] = junk
			}
		}
	}
}

// TestHeadKeepsNoSpans writes spans and then overwrites them, as a receiver recycling its decoded spans does once
// WriteRecord has returned: every query over the head (and over the block it becomes) must still answer with the
// spans as written. It fails if the head keeps a span, or an attribute, event or resource of one.
func TestHeadKeepsNoSpans(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(12, now)
	g.Extras = true
	g.Users = 200
	rng := rand.New(rand.NewPCG(3, 4))
	traces, all := someTraces(g, 3000)
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oracle := memstore.New()
	for i, b := range batches(rng, all, 12) {
		oracle.Write(ctx, b)
		if err := writeAndScribble(s, b); err != nil {
			t.Fatal(err)
		}
		if i == 5 { // a view of the head built, then extended by later records
			compareWithOracle(t, "head, half written", s, oracle, traces, now)
		}
	}
	s.Seal(1)
	compareWithOracle(t, "sealed head", s, oracle, traces, now)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	compareWithOracle(t, "block", s, oracle, traces, now)
}

// TestHeadQueriesWhileWriting queries the head while it is written to (the view extended under the writes, its
// pieces merged), for the race detector, and checks the answers once the writes are done.
func TestHeadQueriesWhileWriting(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(13, now)
	rng := rand.New(rand.NewPCG(5, 6))
	traces, all := someTraces(g, 3000)
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oracle := memstore.New()
	bs := batches(rng, all, 40)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, b := range bs {
			if err := writeAndScribble(s, b); err != nil {
				t.Error(err)
				return
			}
			if i == 25 {
				s.Seal(1)
			}
		}
	}()
	queries := 0
	for running := true; running; queries++ {
		select {
		case <-done:
			running = false
		default:
		}
		if _, err := s.FindTraces(ctx, search.Query{Limit: 5}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Trace(ctx, traces[queries%len(traces)][0].TraceID); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	for _, b := range bs {
		oracle.Write(ctx, b)
	}
	compareWithOracle(t, "head written while queried", s, oracle, traces, now)
	t.Logf("%d queries while writing", queries)
}

// TestInterruptedSplitFlush: a head written as several blocks whose renaming into place a crash interrupted (the
// pending list still there, some blocks renamed, one not) comes back as none of its blocks, and the log's
// checkpoint is the older block's, so that replay brings the head's spans back once.
func TestInterruptedSplitFlush(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(14, now)
	var traces [][]*model.Span
	var first, second []*model.Span
	for len(first)+len(second) < 2000 {
		tr := g.Trace()
		traces = append(traces, tr)
		if len(traces)%2 == 0 {
			first = append(first, tr...)
		} else {
			second = append(second, tr...)
		}
	}
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	s.partSpans, s.maxParts = 1, 3
	if err := s.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	s.maxParts = 1
	s.Seal(5)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	kept := s.blocks[0]
	s.maxParts = 3
	if err := s.Write(ctx, second); err != nil {
		t.Fatal(err)
	}
	s.Seal(9)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range s.blocks {
		if b != kept {
			names = append(names, filepath.Base(b.path))
		}
	}
	if len(names) != 3 || s.WALCheckpoint() != 9 {
		t.Fatalf("blocks %v of the split head, checkpoint %d; want 3 blocks, 9", names, s.WALCheckpoint())
	}
	s.Close()
	// The crash: the list written, the first two blocks renamed, the third still at its temporary name.
	last := filepath.Join(dir, names[2])
	if err := os.Rename(last, last+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pendingFile), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.blocks) != 1 || s.blocks[0].path != kept.path || s.WALCheckpoint() != 5 {
		t.Fatalf("reopened with %d blocks, checkpoint %d; want the first head's block alone, 5", len(s.blocks), s.WALCheckpoint())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("files left: %v", ents)
	}
	// The log replays the second head.
	if err := s.Write(ctx, second); err != nil {
		t.Fatal(err)
	}
	oracle := memstore.New()
	oracle.Write(ctx, first)
	oracle.Write(ctx, second)
	compareWithOracle(t, "replayed", s, oracle, traces, now)
}

// TestRunStarts: each run of a record gets the earliest and latest start of its spans, also when the spans handed
// with the record are not in the record's order (then from its trace's spans).
func TestRunStarts(t *testing.T) {
	a, b := model.TraceID{1}, model.TraceID{2}
	spans := []*model.Span{{TraceID: a, Start: 5}, {TraceID: a, Start: 3}, {TraceID: b, Start: 9}, {TraceID: a, Start: 7}}
	rec := wal.Encode(spans) // runs: a (5, 3), b (9), a (7)
	if len(rec.Runs) != 3 {
		t.Fatalf("%d runs, want 3", len(rec.Runs))
	}
	if got, want := runStarts(spans, rec), []int64{3, 5, 9, 9, 7, 7}; !slices.Equal(got, want) {
		t.Fatalf("aligned: %v, want %v", got, want)
	}
	shuffled := []*model.Span{spans[2], spans[0], spans[3], spans[1]}
	if got, want := runStarts(shuffled, rec), []int64{3, 7, 9, 9, 3, 7}; !slices.Equal(got, want) {
		t.Fatalf("not aligned: %v, want %v", got, want)
	}
}

// TestHeadViewLetGo: a head's view that no search read for viewIdle is let go at the next write, and the head
// answers as before, from its records and then from a new view.
func TestHeadViewLetGo(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(15, now)
	traces, all := someTraces(g, 1500)
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oracle := memstore.New()
	half := len(all) / 2
	s.Write(ctx, all[:half])
	oracle.Write(ctx, all[:half])
	if _, err := s.Services(ctx); err != nil { // a listing decodes the head (a search may not: head_search.go)
		t.Fatal(err)
	}
	v := &s.head.view
	if p, _ := v.snapshot(); p == nil {
		t.Fatal("no view after a listing")
	}
	s.Write(ctx, all[half:half+10])
	if p, _ := v.snapshot(); p == nil {
		t.Fatal("view let go while in use")
	}
	v.used.Store(time.Now().Add(-viewIdle - time.Second).UnixNano())
	s.Write(ctx, all[half+10:])
	oracle.Write(ctx, all[half:])
	if p, n := v.snapshot(); p != nil || n != 0 || v.used.Load() != 0 {
		t.Fatalf("view of %d records kept after %s unused", n, viewIdle)
	}
	for _, tr := range traces[:20] {
		got, err := s.Trace(ctx, tr[0].TraceID)
		want, _ := oracle.Trace(ctx, tr[0].TraceID)
		if err != nil || !reflect.DeepEqual(sortSpans(got), sortSpans(want)) {
			t.Fatalf("trace %s after the view was let go: %d spans, want %d (%v)", tr[0].TraceID, len(got), len(want), err)
		}
	}
	compareWithOracle(t, "view let go", s, oracle, traces, now)
}

// writeAndScribble writes a copy of spans, in memory of its own (resources included), with WriteRecord, then
// overwrites the copy as a receiver recycling its decoded spans does: what the store answers afterwards can only
// come from what it kept.
func writeAndScribble(s *Store, spans []*model.Span) error {
	own, err := wal.DecodeSpans(wal.AppendSpans(nil, spans))
	if err != nil {
		return err
	}
	if err := s.WriteRecord(ctx, own, wal.Encode(own)); err != nil {
		return err
	}
	scribble(own)
	return nil
}
