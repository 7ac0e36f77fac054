package embedded

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

// TestSearchFromOutlines: in a compacted block, every trace's summary from its page's outline is the one its
// spans give, and a search without an expression answers from outlines, without rebuilding a page.
func TestSearchFromOutlines(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(31, now)
	g.Extras = true
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	for i, b := range batches(rng, g.Spans(5000), 8) {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if i%4 == 3 {
			s.Seal(i)
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(s.blocks) != 1 || !s.blocks[0].meta.ColumnPages || len(s.blocks[0].meta.Pages) < 2 {
		t.Fatalf("want one compacted block of several column pages")
	}
	b := s.blocks[0]
	sn, err := s.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.release()
	q := search.Query{}
	for ord, id := range b.ids {
		sum, ok, err := s.examine(sn, &q, candidate{key: b.tMin[ord], id: &b.ids[ord], b: b, ord: ord})
		if err != nil || !ok {
			t.Fatalf("trace %d: matched %v, %v", ord, ok, err)
		}
		spans, err := s.Trace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := store.Summarize(id, spans); !reflect.DeepEqual(sum, want) {
			t.Fatalf("trace %d: summary from the outline\n %+v\nwant\n %+v", ord, sum, want)
		}
	}
	// A search on service, operation and duration reads outlines only.
	s.cache = newPageCache(64 << 20)
	res, err := s.FindTraces(ctx, search.Query{Service: "cart", Operation: "render", MinDuration: 100e6})
	if err != nil || len(res) == 0 {
		t.Fatalf("search: %d results, %v", len(res), err)
	}
	outlines, pages := 0, 0
	for _, p := range s.cache.items {
		switch p.val.(type) {
		case *wal.Outline:
			outlines++
		case *wal.Batch:
			pages++
		}
	}
	if outlines == 0 || pages != 0 {
		t.Errorf("search read %d outlines and %d pages, want outlines only", outlines, pages)
	}
	// With an expression, traces are read whole.
	e, err := search.Parse(`user.id = "user-3"`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindTraces(ctx, search.Query{Expr: e, Kind: model.KindServer}); err != nil {
		t.Fatal(err)
	}
}
