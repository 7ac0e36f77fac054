package embedded

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/store/memstore"
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
		sum, ok, err := s.examine(sn, &q, false, candidate{key: b.tMin[ord], id: &b.ids[ord], b: b, ord: ord}, nil)
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

// TestDurBucketTable: durBucket's table gives what its definition (durBucketLog) gives, at every threshold and
// power of two and their neighbours, and at random durations of every magnitude.
func TestDurBucketTable(t *testing.T) {
	ds := []int64{math.MinInt64, -5, 0, 1, 2, 3, math.MaxInt64, math.MaxInt64 - 1, 1 << 40, 1<<32 - 1}
	for b := 1; b < 256; b++ {
		for k := int64(-2); k <= 2; k++ {
			ds = append(ds, durThresh[b]+k)
		}
	}
	for e := 1; e < 63; e++ {
		ds = append(ds, 1<<e-1, 1<<e, 1<<e+1)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200_000 {
		ds = append(ds, rng.Int64N(1<<uint(1+rng.IntN(62))))
	}
	for _, d := range ds {
		for _, up := range []bool{false, true} {
			if g, w := durBucket(d, up), durBucketLog(d, up); g != w {
				t.Fatalf("durBucket(%d, %v) = %d, want %d", d, up, g, w)
			}
		}
	}
}

// TestIntegerTermsOfWideRange: integer attribute values spanning more than 2^32 (which postings sort apart from
// the radix sort) are indexed under each value, in blocks written from heads and compacted.
func TestIntegerTermsOfWideRange(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(41, now)
	vals := []int64{-1 << 40, -3, 0, 7, 1 << 40, 1<<40 + 1}
	var spans []*model.Span
	for i := range 60 {
		tr := g.Trace()
		for _, s := range tr {
			s.Attrs = append(s.Attrs, model.Attr{Key: "big", Value: model.Int(vals[i%len(vals)])})
		}
		spans = append(spans, tr...)
	}
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, part := range [][]*model.Span{spans[:len(spans)/2], spans[len(spans)/2:]} {
		if err := s.Write(ctx, part); err != nil {
			t.Fatal(err)
		}
		s.Seal(i)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for _, stage := range []string{"head cuts", "compacted"} {
		if stage == "compacted" {
			if err := s.Compact(); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range vals {
			e, err := search.Parse(fmt.Sprintf("big = %d", v))
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.FindTraces(ctx, search.Query{Expr: e, Limit: 100})
			if err != nil || len(res) != 10 {
				t.Fatalf("%s: big = %d: %d traces, %v; want 10", stage, v, len(res), err)
			}
		}
	}
}

// TestExactSearches: searches that the index answers without testing spans (equalities of string literals on
// attributes of every value type, on intrinsics, and alternatives of them) give what the memory store gives.
func TestExactSearches(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(51, now)
	g.Extras = true
	g.Users = 300
	spans := g.Spans(4000)
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oracle := memstore.New()
	oracle.Write(ctx, spans)
	rng := rand.New(rand.NewPCG(9, 10))
	for i, b := range batches(rng, spans, 4) {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		s.Seal(i)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	// Literals taken from the spans' own values, as text: strings, integers, floats, booleans, arrays, bytes.
	var exprs []search.Expr
	for i := 0; len(exprs) < 60; i++ {
		sp := spans[rng.IntN(len(spans))]
		a := sp.Attrs[rng.IntN(len(sp.Attrs))]
		if a.Key == "service.name" {
			continue
		}
		exprs = append(exprs, &search.Compare{Field: search.Attribute(a.Key), Op: search.OpEq,
			Value: model.String(a.Value.AsString())})
	}
	for _, sp := range spans { // every value type: a span with the generator's extra attributes
		if len(sp.Attrs) > 10 {
			for _, a := range sp.Attrs {
				exprs = append(exprs, &search.Compare{Field: search.Attribute(a.Key), Op: search.OpEq,
					Value: model.String(a.Value.AsString())})
			}
			break
		}
	}
	exprs = append(exprs,
		&search.Compare{Field: search.Attribute("host.name"), Op: search.OpEq, Value: model.String("host-cart")},
		&search.Compare{Field: search.Attribute("user.id"), Op: search.OpEq, Value: model.String("nobody")},
		mustParse(t, `status = error`), mustParse(t, `name = "render"`), mustParse(t, `kind = server`),
		mustParse(t, `service = "email"`),
		mustParse(t, `user.id = "user-3" OR user.id = "user-4" OR http.response.status_code = "503"`))
	// A time range through the middle of the spans: traces wholly inside it are answered by the index, those it
	// cuts through are read.
	lo, hi := spans[0].Start, spans[0].Start
	for _, sp := range spans {
		lo, hi = min(lo, sp.Start), max(hi, sp.Start)
	}
	from, to := lo+(hi-lo)/3, lo+2*(hi-lo)/3
	// And a range that cuts through one trace just after its first span, with a value only that span holds: the
	// index proposes the trace, but its only matching span is outside the range.
	count := map[[2]string]int{}
	for _, sp := range spans {
		for _, a := range sp.Attrs {
			count[[2]string{a.Key, a.Value.AsString()}]++
		}
	}
	first := map[model.TraceID]*model.Span{}
	later := map[model.TraceID]bool{}
	for _, sp := range spans {
		if f := first[sp.TraceID]; f == nil || sp.Start < f.Start {
			first[sp.TraceID] = sp
		}
	}
	for _, sp := range spans {
		if sp.Start > first[sp.TraceID].Start {
			later[sp.TraceID] = true
		}
	}
	var cut *search.Query
	for _, sp := range spans {
		if cut != nil || first[sp.TraceID] != sp || !later[sp.TraceID] {
			continue
		}
		for _, a := range sp.Attrs {
			if a.Key != "service.name" && count[[2]string{a.Key, a.Value.AsString()}] == 1 {
				cut = &search.Query{Expr: &search.Compare{Field: search.Attribute(a.Key), Op: search.OpEq,
					Value: model.String(a.Value.AsString())}, Start: sp.Start + 1, Limit: 30}
				break
			}
		}
	}
	if cut == nil {
		t.Fatal("no span with a value of its own before the rest of its trace")
	}
	if got, err := s.FindTraces(ctx, *cut); err != nil || len(got) != 0 {
		t.Fatalf("%s from %d: %v, %v; want no trace (the only span with the value starts before)", cut.Expr, cut.Start, got, err)
	}
	for _, e := range exprs {
		for _, q := range []search.Query{{Expr: e, Limit: 30}, {Expr: e, Start: from, End: to, Limit: 1000}} {
			if !indexExact(&q) {
				t.Fatalf("%s: not answered by the index alone", e)
			}
			sameFind(t, s, oracle, q)
		}
	}
	for _, q := range []search.Query{{Expr: mustParse(t, `span.user.id = "user-3"`)},
		{Expr: mustParse(t, `user.id = "user-3" AND cloud.region = "eu-west-1"`)},
		{Expr: mustParse(t, `service.name = "cart"`)}, {Service: "cart", Expr: mustParse(t, `user.id = "user-3"`)},
		{Expr: mustParse(t, `app.items = 3`)}} {
		if indexExact(&q) {
			t.Errorf("%s: taken as answered by the index alone", q.Expr)
		}
	}
}
