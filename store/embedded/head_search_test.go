package embedded

import (
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/store/memstore"
	"github.com/weftrace/weft/wal"
)

// BenchmarkHeadSearchFresh searches a head of 100,000 spans that no search has read before, as weft serve's
// searches find its heads at saturation (a head is cut every half second or so, and searched every few): the
// Jaeger UI's search of recent traces by service. Records of 1,000 spans grouped by service, as OTLP requests
// come, each newer than the one before (280,000 spans/s), of traces that started up to 50 ms before. It reports
// the CPU per search: at saturation the search competes with ingest for the cores.
func BenchmarkHeadSearchFresh(b *testing.B) {
	t0 := time.Now().UnixNano()
	g := spangen.New(5, t0)
	g.Spread, g.Users = 50e6, 300
	var recs []*wal.Record
	var batches [][]*model.Span
	for i := range 100 {
		g.Now = t0 - int64(100-i)*3_571_000
		batch := g.Spans(1000)
		slices.SortStableFunc(batch, func(a, b *model.Span) int { return strings.Compare(a.Service(), b.Service()) })
		batches = append(batches, batch)
		recs = append(recs, wal.Encode(batch))
	}
	s, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1, BlockSpans: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name string
		q    search.Query
	}{
		{"service", search.Query{Service: "checkout", Limit: 20}},
		{"service+op+dur", search.Query{Service: "checkout", Operation: spangen.Operations[3], MinDuration: 1, Limit: 20}},
		{"rare", search.Query{Expr: mustParseExpr(`user.id = "user-7"`), Limit: 20}},
		{"absent", search.Query{Service: "nobody", Limit: 20}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				h := newHead()
				for i, r := range recs {
					h.write(batches[i], r)
				}
				s.mu.Lock()
				s.head = h
				s.mu.Unlock()
				q := tc.q
				q.Start = time.Now().Add(-time.Hour).UnixNano()
				b.StartTimer()
				c0 := cpuTime()
				if _, err := s.FindTraces(ctx, q); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/search")
		})
	}
}

// headSearches are searches that heads answer in each of their ways: by service as the Jaeger UI asks, with
// operation and durations, by kind and time range, by expression, and some that few or no traces match.
func headSearches(t *testing.T, now int64) []search.Query {
	return []search.Query{
		{},
		{Limit: 1},
		{Service: "checkout", Limit: 20, Start: now - 3600e9},
		{Service: "cart"},
		{Service: "cart", Operation: "POST /api/cart"},
		{Service: "payment", Operation: "grpc.Charge", MinDuration: 150e6},
		{Service: "payment", Operation: "grpc.Charge", MinDuration: 50e6, MaxDuration: 60e6},
		{Service: "frontend", MinDuration: 380e6, Limit: 50},
		{Operation: "render", Kind: model.KindClient},
		{Kind: model.KindServer, Start: now - 1200e9, End: now - 600e9, Limit: 100},
		{Service: "checkout", End: now - 1500e9, Limit: 7},
		{Expr: mustParse(t, `user.id = "user-12"`), Limit: 100},
		{Expr: mustParse(t, `status = error`), Limit: 40},
		{Expr: mustParse(t, `http.route =~ "cart$" AND duration > 150ms`)},
		{Service: "nobody"},
		{Service: "nobody", Limit: 3000},
		{Service: "email", Expr: mustParse(t, `app.items = 3`), Limit: 500},
		{Expr: mustParse(t, `user.id = "nobody"`)},
		{Expr: mustParse(t, `app.items = "3"`), Limit: 30},
		{Expr: mustParse(t, `service.name = "email" AND event = "weft.fork"`), Limit: 30},
		{Expr: mustParse(t, `(user.id = "user-5" AND app.items > 3) OR (http.route =~ "cart" AND raw)`), Limit: 30},
	}
}

// headStore writes traces of about spans spans, split at random over 18 writes (a trace's spans spread over many
// records, as requests grouped by service spread them), to a new store and to the reference store: the first six
// writes become blocks, the next six a sealed head, the last six the head.
func headStore(t *testing.T, seed uint64, spans int) (s *Store, oracle *memstore.Store, traces [][]*model.Span, now int64) {
	now = time.Now().UnixNano()
	g := spangen.New(seed, now)
	g.Extras = true
	g.Users = 200
	traces, all := someTraces(g, spans)
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	oracle = memstore.New()
	for i, b := range batches(rand.New(rand.NewPCG(seed, 3)), all, 18) {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		oracle.Write(ctx, b)
		switch i {
		case 5:
			s.Seal(i)
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		case 11:
			s.Seal(i)
		}
	}
	return s, oracle, traces, now
}

// TestHeadSearchPaths answers searches over blocks, a sealed head and the head in each way a search reads heads
// (lazily; lazily until the first trace examined in vain, or the third, then by their records newest first;
// through the heads' views; as the store chooses), and checks each answer against the reference store.
func TestHeadSearchPaths(t *testing.T) {
	budget := headMissBudget
	t.Cleanup(func() { headPath, headMissBudget = 0, budget })
	for _, tc := range []struct {
		name   string
		path   int
		budget func(int) int
	}{
		{"auto", 0, budget},
		{"lazy", headPathLazy, func(int) int { return 1 << 30 }},
		{"lazy-then-records-at-once", headPathLazy, func(int) int { return 0 }},
		{"lazy-then-records-after-3", headPathLazy, func(int) int { return 3 }},
		{"view", headPathView, budget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headPath, headMissBudget = tc.path, tc.budget
			s, oracle, traces, now := headStore(t, 21, 5000)
			if len(s.sealed) != 1 || len(s.blocks) == 0 {
				t.Fatalf("%d sealed heads and %d blocks, want 1 and some", len(s.sealed), len(s.blocks))
			}
			for _, q := range headSearches(t, now) {
				sameFind(t, s, oracle, q)
			}
			compareWithOracle(t, tc.name, s, oracle, traces, now)
		})
	}
}

// sameFind checks that s answers q as the reference store does.
func sameFind(t *testing.T, s *Store, oracle *memstore.Store, q search.Query) {
	t.Helper()
	got, err := s.FindTraces(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := oracle.FindTraces(ctx, q)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FindTraces %+v:\n got %v\nwant %v", q, got, want)
	}
}

// TestLazyHeadSearchDecodesLittle checks that searches, whether many traces of the heads match or none, leave
// no view of the heads decoded.
func TestLazyHeadSearchDecodesLittle(t *testing.T) {
	s, oracle, _, now := headStore(t, 22, 20000)
	heads := append(slices.Clone(s.sealed), s.head)
	for _, q := range []search.Query{
		{Service: "checkout", Limit: 20, Start: now - 3600e9},
		{Service: "frontend", Operation: "GET /api/cart", Limit: 20},
		{Service: "nobody", Limit: 20},
		{Expr: mustParse(t, `user.id = "user-12"`), Limit: 5},
	} {
		sameFind(t, s, oracle, q)
		for _, h := range heads {
			if _, recs := h.view.snapshot(); recs > 0 {
				t.Fatalf("FindTraces %+v: a head's view holds %d records, want none", q, recs)
			}
		}
	}
}

// TestHeadRest decodes a head's records newest first, an eighth at a time (at least 8 records): each step
// proposes the traces with a matching span in the records it decoded, and puts the rest back with the latest
// start of the records left.
func TestHeadRest(t *testing.T) {
	h := newHead()
	var recs [][]*model.Span
	for r := range 40 { // record r: traces 2r and 2r+1, spans starting at 100r+10 and 100r+20; trace 2r+1 is "b"'s
		rec := []*model.Span{
			{TraceID: model.TraceID{byte(2 * r)}, SpanID: model.SpanID{1}, Start: int64(100*r + 10), Name: "op",
				Resource: &model.Resource{Service: "a"}},
			{TraceID: model.TraceID{byte(2*r + 1)}, SpanID: model.SpanID{2}, Start: int64(100*r + 20), Name: "op",
				Resource: &model.Resource{Service: "b"}},
		}
		recs = append(recs, rec)
		h.write(rec, wal.Encode(rec))
	}
	// A late span: record 10 holds a span starting after every other.
	late := []*model.Span{{TraceID: model.TraceID{200}, SpanID: model.SpanID{3}, Start: 9000, Name: "op",
		Resource: &model.Resource{Service: "c"}}}
	h.mu.Lock()
	h.batches[10], h.latest[10] = wal.Encode(late), 9000
	h.mu.Unlock()

	r := h.rest()
	if c := r.candidate(); c.key != 9000 || c.rest != r || *c.id != noTrace {
		t.Fatalf("rest candidate %+v, want key 9000", c)
	}
	q := search.Query{Service: "b"}
	var hp candHeap
	var steps []int
	for r.n > 0 {
		if err := r.next(&hp, &q); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, r.n)
		var proposed []byte
		for len(hp) > 0 {
			c := hp.pop()
			if c.rest != nil {
				want := int64(9000)
				if r.n <= 10 {
					want = int64(100*(r.n-1) + 20)
				}
				if c.rest != r || c.key != want {
					t.Fatalf("after decoding down to record %d: rest candidate key %d, want %d", r.n, c.key, want)
				}
				continue
			}
			proposed = append(proposed, c.id[0])
		}
		for _, id := range proposed {
			if id%2 != 1 || int(id)/2 < r.n || int(id)/2 >= r.n+8 {
				t.Fatalf("after decoding down to record %d: trace %d proposed", r.n, id)
			}
		}
		if want := 8; len(proposed) != want-btoi(r.n <= 10 && r.n+8 > 10) {
			t.Fatalf("after decoding down to record %d: %d traces proposed, want %d", r.n, len(proposed), want)
		}
	}
	if !reflect.DeepEqual(steps, []int{32, 24, 16, 8, 0}) {
		t.Fatalf("decoded down to records %v", steps)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestParsedRecords checks that a search parses a record once, and that a nil cache parses each time.
func TestParsedRecords(t *testing.T) {
	spans := spangen.New(23, time.Now().UnixNano()).Spans(50)
	rec := wal.Encode(spans)
	pc := &parsedRecords{}
	a, err := pc.parse(rec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pc.parse(rec)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("a record parsed twice through one cache")
	}
	var none *parsedRecords
	c, err := none.parse(rec)
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Fatal("a nil cache kept a parsed record")
	}
	got, err := c.All()
	if err != nil || len(got) != len(spans) {
		t.Fatalf("%d spans decoded (%v), want %d", len(got), err, len(spans))
	}
}

// TestAppendLazy checks which of a head's traces a search's time range proposes: those with a span starting in
// it, keyed by their earliest start in the head, over spans written in several records.
func TestAppendLazy(t *testing.T) {
	span := func(trace byte, start int64) *model.Span {
		return &model.Span{TraceID: model.TraceID{trace}, SpanID: model.SpanID{trace, byte(start)}, Start: start,
			Name: "op", Resource: &model.Resource{Service: "svc"}}
	}
	h := newHead()
	for _, rec := range [][]*model.Span{
		{span(1, 10), span(1, 20), span(2, 50)},
		{span(3, 100), span(1, 30)},
		{span(2, 60), span(4, 200)},
	} {
		h.write(rec, wal.Encode(rec))
	}
	// Trace 1 starts 10..30, 2 50..60, 3 at 100, 4 at 200.
	for _, tc := range []struct {
		start, end int64
		want       map[byte]int64 // trace -> key
	}{
		{0, 0, map[byte]int64{1: 10, 2: 50, 3: 100, 4: 200}},
		{30, 0, map[byte]int64{1: 10, 2: 50, 3: 100, 4: 200}},
		{31, 0, map[byte]int64{2: 50, 3: 100, 4: 200}},
		{0, 50, map[byte]int64{1: 10, 2: 50}},
		{0, 49, map[byte]int64{1: 10}},
		{55, 150, map[byte]int64{2: 50, 3: 100}},
		{61, 99, map[byte]int64{}},
	} {
		cands, n := h.appendLazy([]candidate{{key: -1}}, tc.start, tc.end, nil)
		got := map[byte]int64{}
		for _, c := range cands[1:] {
			if c.lazy != h || c.b != nil {
				t.Fatalf("[%d, %d]: candidate %+v not lazy of the head", tc.start, tc.end, c)
			}
			got[c.id[0]] = c.key
		}
		if n != len(cands)-1 || cands[0].key != -1 || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("[%d, %d]: %d candidates %v, want %v", tc.start, tc.end, n, got, tc.want)
		}
	}
}

func mustParseExpr(text string) search.Expr {
	e, err := search.Parse(text)
	if err != nil {
		panic(err)
	}
	return e
}
