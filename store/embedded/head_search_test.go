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
// come. It reports the CPU per search: at saturation the search competes with ingest for the cores.
func BenchmarkHeadSearchFresh(b *testing.B) {
	g := spangen.New(5, time.Now().UnixNano())
	spans := g.Spans(100_000)
	var recs []*wal.Record
	var batches [][]*model.Span
	for i := 0; i < len(spans); i += 1000 {
		batch := spans[i:min(i+1000, len(spans))]
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
// (lazily, lazily until the first trace examined in vain or the third, through the heads' views, and as the
// store chooses), and checks each answer against the reference store.
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
		{"lazy-then-view-at-once", headPathLazy, func(int) int { return 0 }},
		{"lazy-then-view-after-3", headPathLazy, func(int) int { return 3 }},
		{"view", headPathView, budget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headPath, headMissBudget = tc.path, tc.budget
			s, oracle, traces, now := headStore(t, 21, 5000)
			if len(s.sealed) != 1 || len(s.blocks) == 0 {
				t.Fatalf("%d sealed heads and %d blocks, want 1 and some", len(s.sealed), len(s.blocks))
			}
			for _, q := range headSearches(t, now) {
				got, err := s.FindTraces(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := oracle.FindTraces(ctx, q)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("FindTraces %+v:\n got %v\nwant %v", q, got, want)
				}
			}
			compareWithOracle(t, tc.name, s, oracle, traces, now)
		})
	}
}

// TestLazyHeadSearchDecodesLittle checks that a search many traces match decodes no head's view, and that one
// that no trace of the heads matches gives up examining them one by one and decodes the views.
func TestLazyHeadSearchDecodesLittle(t *testing.T) {
	s, oracle, _, now := headStore(t, 22, 20000)
	heads := append(slices.Clone(s.sealed), s.head)
	decoded := func() int {
		n := 0
		for _, h := range heads {
			_, recs := h.view.snapshot()
			n += recs
		}
		return n
	}
	for _, tc := range []struct {
		q       search.Query
		decodes bool
	}{
		{search.Query{Service: "checkout", Limit: 20, Start: now - 3600e9}, false},
		{search.Query{Service: "frontend", Operation: "GET /api/cart", Limit: 20}, false},
		{search.Query{Service: "nobody", Limit: 20}, true},
	} {
		got, err := s.FindTraces(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := oracle.FindTraces(ctx, tc.q)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("FindTraces %+v:\n got %v\nwant %v", tc.q, got, want)
		}
		if n := decoded(); (n > 0) != tc.decodes {
			t.Fatalf("FindTraces %+v: the heads' views hold %d records, want decoded=%v", tc.q, n, tc.decodes)
		}
	}
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
		cands, n := h.appendLazy([]candidate{{key: -1}}, tc.start, tc.end)
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
