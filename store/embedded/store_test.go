package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/store/memstore"
)

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func testOptions() Options {
	return Options{Logger: quiet(), CompactInterval: -1, BlockSpans: 1 << 30, CompactFanIn: 2, CompactSpans: 1 << 30}
}

// batches cuts spans into shuffled batches, so a trace's spans arrive in several writes, as they do from
// several services.
func batches(rng *rand.Rand, spans []*model.Span, n int) [][]*model.Span {
	sh := slices.Clone(spans)
	rng.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
	out := make([][]*model.Span, n)
	for i, s := range sh {
		out[i%n] = append(out[i%n], s)
	}
	return out
}

func sortSpans(spans []*model.Span) []*model.Span {
	spans = slices.Clone(spans)
	slices.SortFunc(spans, func(a, b *model.Span) int {
		if c := bytes.Compare(a.SpanID[:], b.SpanID[:]); c != 0 {
			return c
		}
		return int(a.Start - b.Start)
	})
	return spans
}

func mustParse(t *testing.T, text string) search.Expr {
	t.Helper()
	e, err := search.Parse(text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return e
}

// compareWithOracle asks both stores the same questions and fails on any difference.
func compareWithOracle(t *testing.T, stage string, got store.Store, want *memstore.Store, traces [][]*model.Span, now int64) {
	t.Helper()
	// Trace and Traces.
	var ids []model.TraceID
	for i, tr := range traces {
		if i%7 != 0 {
			continue
		}
		id := tr[0].TraceID
		w, werr := want.Trace(ctx, id)
		g, err := got.Trace(ctx, id)
		if !errors.Is(err, werr) {
			t.Fatalf("%s: Trace: %v, want %v", stage, err, werr)
		}
		if werr == nil {
			ids = append(ids, id)
		}
		if !reflect.DeepEqual(sortSpans(g), sortSpans(w)) {
			t.Fatalf("%s: Trace %s: %d spans, want %d (or contents differ)", stage, id, len(g), len(w))
		}
	}
	if _, err := got.Trace(ctx, model.TraceID{1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: Trace of a missing ID: %v, want ErrNotFound", stage, err)
	}
	gm, err := got.Traces(ctx, append(ids, model.TraceID{2}))
	if err != nil {
		t.Fatal(err)
	}
	if len(gm) != len(ids) {
		t.Fatalf("%s: Traces gave %d traces, want %d", stage, len(gm), len(ids))
	}
	// Listings.
	eq := func(what string, g, w any, gerr, werr error) {
		t.Helper()
		if gerr != nil || werr != nil {
			t.Fatalf("%s: %s: %v / %v", stage, what, gerr, werr)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: %s:\n got %v\nwant %v", stage, what, g, w)
		}
	}
	g1, e1 := got.Services(ctx)
	w1, e2 := want.Services(ctx)
	eq("Services", g1, w1, e1, e2)
	for _, svc := range []string{"", "cart", "frontend", "nope"} {
		for _, k := range []model.Kind{model.KindUnspecified, model.KindServer} {
			g, e1 := got.Operations(ctx, svc, k)
			w, e2 := want.Operations(ctx, svc, k)
			eq("Operations "+svc, g, w, e1, e2)
		}
	}
	g2, e1 := got.AttributeKeys(ctx)
	w2, e2 := want.AttributeKeys(ctx)
	eq("AttributeKeys", g2, w2, e1, e2)
	for _, c := range []struct {
		key, prefix string
		limit       int
	}{{"user.id", "user-1", 15}, {"http.request.method", "", 0}, {"http.response.status_code", "5", 0},
		{"host.name", "host-c", 10}, {"cache.hit", "", 0}, {"missing", "", 5}, {"tags", "", 0}} {
		g, e1 := got.AttributeValues(ctx, c.key, c.prefix, c.limit)
		w, e2 := want.AttributeValues(ctx, c.key, c.prefix, c.limit)
		if len(g) == 0 && len(w) == 0 {
			continue
		}
		eq("AttributeValues "+c.key, g, w, e1, e2)
	}
	for _, win := range [][2]int64{{0, 0}, {now - 1800e9, now - 600e9}} {
		g, e1 := got.Dependencies(ctx, win[0], win[1])
		w, e2 := want.Dependencies(ctx, win[0], win[1])
		eq("Dependencies", g, w, e1, e2)
	}
	// Searches.
	queries := []search.Query{
		{},
		{Limit: 5},
		{Service: "cart"},
		{Service: "cart", Operation: "POST /api/cart"},
		{Service: "payment", Operation: "grpc.Charge", MinDuration: 150e6},
		{Service: "payment", Operation: "grpc.Charge", MaxDuration: 10e6},
		{Service: "payment", Operation: "grpc.Charge", MinDuration: 50e6, MaxDuration: 60e6},
		{Service: "frontend", MinDuration: 380e6, Limit: 50},
		{Operation: "render", Kind: model.KindClient},
		{Kind: model.KindServer, Start: now - 1200e9, End: now - 600e9, Limit: 100},
		{Expr: mustParse(t, `user.id = "user-12"`), Limit: 100},
		{Expr: mustParse(t, `http.response.status_code = 500 AND cloud.region = "eu-west-1"`)},
		{Expr: mustParse(t, `http.response.status_code = "503"`)},
		{Expr: mustParse(t, `status = error`), Limit: 40},
		{Expr: mustParse(t, `db.system = "redis" AND (http.request.method = "PUT" OR http.request.method = "DELETE")`)},
		{Expr: mustParse(t, `NOT db.system = "none" AND app.items > 17`)},
		{Expr: mustParse(t, `http.route =~ "cart$" AND duration > 150ms`)},
		{Expr: mustParse(t, `service.name = "cart" AND name = "validate"`)},
		{Expr: mustParse(t, `resource.host.name = "host-ad" AND kind = server`)},
		{Expr: mustParse(t, `cache.hit = true AND load < 0.5`)},
		{Expr: mustParse(t, `link.kind`)},
		{Service: "auth", Expr: mustParse(t, `net.peer.name = "10.0.1.17"`), Limit: 100},
		{Expr: mustParse(t, `service = "email" AND app.items = 3`)},
	}
	for _, q := range queries {
		g, e1 := got.FindTraces(ctx, q)
		w, e2 := want.FindTraces(ctx, q)
		name := "FindTraces"
		if q.Expr != nil {
			name += " " + q.Expr.String()
		}
		eq(name, g, w, e1, e2)
	}
}

// TestOracle writes, flushes, compacts and reopens, asking the store and the reference store the same questions at
// each stage; heads are written as one block each, or as three (each a range of the head's trace IDs).
func TestOracle(t *testing.T) {
	for _, parts := range []int{1, 3} {
		t.Run(fmt.Sprintf("parts=%d", parts), func(t *testing.T) { testOracle(t, parts) })
	}
}

func testOracle(t *testing.T, parts int) {
	now := time.Now().UnixNano()
	g := spangen.New(11, now)
	g.Extras = true
	g.Users = 200
	rng := rand.New(rand.NewPCG(1, 2))
	traces, all := someTraces(g, 6000)
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	s.partSpans, s.maxParts = 1, parts
	oracle := memstore.New()
	bs := batches(rng, all, 20)
	for i, b := range bs {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		oracle.Write(ctx, b)
		if i == 4 && parts == 1 { // heads do not depend on how they are split into blocks
			compareWithOracle(t, "head only", s, oracle, traces, now)
		}
		if i%5 == 4 {
			s.Seal(i)
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if i == 12 {
			compareWithOracle(t, "head and blocks", s, oracle, traces, now)
		}
	}
	if n := len(s.blocks); n != 4*parts {
		t.Fatalf("%d blocks, want %d", n, 4*parts)
	}
	for _, b := range s.blocks {
		if want := map[bool]int{true: parts, false: 0}[parts > 1]; b.meta.Parts != want {
			t.Fatalf("block %s: meta parts %d, want %d", b.path, b.meta.Parts, want)
		}
	}
	compareWithOracle(t, "blocks", s, oracle, traces, now)
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.blocks); n != 1 {
		t.Fatalf("%d blocks after compaction, want 1", n)
	}
	compareWithOracle(t, "compacted", s, oracle, traces, now)
	if cp := s.WALCheckpoint(); cp != 19 {
		t.Fatalf("WAL checkpoint %d, want 19", cp)
	}
	s.Close()
	s2, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	compareWithOracle(t, "reopened", s2, oracle, traces, now)
}

func TestRetentionDropsOldBlocks(t *testing.T) {
	now := time.Now()
	o := testOptions()
	o.Retention = 2 * time.Hour
	clock := now
	o.Now = func() time.Time { return clock }
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := spangen.New(5, now.UnixNano())
	g.Spread = 600e9
	old := g.Spans(500)
	g.Now = now.Add(time.Hour).UnixNano()
	young := g.Spans(500)
	for _, b := range [][]*model.Span{old, young} {
		s.Write(ctx, b)
		s.Seal(0)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	clock = now.Add(150 * time.Minute) // past the old block's spans, not the young one's
	if err := s.ApplyRetention(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trace(ctx, old[0].TraceID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old trace: %v, want ErrNotFound", err)
	}
	if _, err := s.Trace(ctx, young[0].TraceID); err != nil {
		t.Fatalf("young trace: %v", err)
	}
	if len(s.blocks) != 1 {
		t.Fatalf("%d blocks, want 1", len(s.blocks))
	}
}

func TestPickCompaction(t *testing.T) {
	type blk struct{ level, spans int }
	tests := []struct {
		name   string
		blocks []blk
		want   []int // indexes of the group, nil for none
	}{
		{"too few", []blk{{0, 10}, {0, 10}, {0, 10}}, nil},
		{"four heads", []blk{{0, 10}, {0, 10}, {0, 10}, {0, 10}}, []int{0, 1, 2, 3}},
		{"as many as fit", []blk{{0, 10}, {0, 10}, {0, 10}, {0, 10}, {0, 10}, {0, 60}}, []int{0, 1, 2, 3, 4}},
		{"a merged block does not take heads in", []blk{{1, 40}, {0, 10}, {0, 10}, {0, 10}, {0, 10}}, []int{1, 2, 3, 4}},
		{"levels apart", []blk{{1, 40}, {0, 10}, {0, 10}, {1, 40}, {0, 10}, {0, 10}}, nil},
		{"merged blocks merge again", []blk{{1, 20}, {1, 20}, {1, 20}, {1, 20}, {0, 10}}, []int{0, 1, 2, 3}},
		{"over the size", []blk{{1, 40}, {1, 40}, {1, 40}, {1, 40}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{o: Options{CompactFanIn: 4, CompactSpans: 100}}
			for _, b := range tc.blocks {
				s.blocks = append(s.blocks, &block{meta: blockMeta{Level: b.level, Spans: b.spans}})
			}
			var got []int
			for _, b := range s.pickCompaction(false) {
				got = append(got, slices.Index(s.blocks, b))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("group %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPickCompactionParts: the blocks a head was split into count as fractions of a head towards the fan-in.
func TestPickCompactionParts(t *testing.T) {
	type blk struct{ level, spans, parts int }
	tests := []struct {
		name   string
		blocks []blk
		want   []int
	}{
		{"two heads of two parts", []blk{{0, 5, 2}, {0, 5, 2}, {0, 5, 2}, {0, 5, 2}}, nil},
		{"four heads of two parts", []blk{{0, 5, 2}, {0, 5, 2}, {0, 5, 2}, {0, 5, 2}, {0, 5, 2}, {0, 5, 2}, {0, 5, 2},
			{0, 5, 2}}, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"split and whole heads", []blk{{0, 5, 3}, {0, 5, 3}, {0, 5, 3}, {0, 10, 0}, {0, 10, 1}, {0, 10, 0}},
			[]int{0, 1, 2, 3, 4, 5}},
		{"three and a half heads", []blk{{0, 5, 2}, {0, 10, 0}, {0, 10, 0}, {0, 10, 0}}, nil},
		{"merged blocks are whole", []blk{{1, 20, 0}, {1, 20, 0}, {1, 20, 0}, {1, 20, 0}}, []int{0, 1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{o: Options{CompactFanIn: 4, CompactSpans: 100}}
			for _, b := range tc.blocks {
				s.blocks = append(s.blocks, &block{meta: blockMeta{Level: b.level, Spans: b.spans, Parts: b.parts}})
			}
			var got []int
			for _, b := range s.pickCompaction(false) {
				got = append(got, slices.Index(s.blocks, b))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("group %v, want %v", got, tc.want)
			}
		})
	}
}

// writeHead writes whole traces of at least spans spans, in n shuffled batches, to s and oracle, then seals the
// head at log segment seg and writes it to blocks. It returns the traces.
func writeHead(t *testing.T, s *Store, oracle *memstore.Store, g *spangen.Generator, rng *rand.Rand, seg, spans, n int) [][]*model.Span {
	t.Helper()
	var traces [][]*model.Span
	var all []*model.Span
	for len(all) < spans {
		tr := g.Trace()
		traces = append(traces, tr)
		all = append(all, tr...)
	}
	for _, b := range batches(rng, all, n) {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		oracle.Write(ctx, b)
	}
	s.Seal(seg)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	return traces
}

// TestCompactionLevels compacts as heads arrive, so that merged blocks (compressed pages, a dictionary) are merged
// again, and checks every answer against the reference store.
func TestCompactionLevels(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(12, now)
	g.Extras = true
	g.Spread = 60e9
	rng := rand.New(rand.NewPCG(3, 4))
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oracle := memstore.New()
	var traces [][]*model.Span
	for i := range 8 {
		g.Now = now - int64(8-i)*600e9 // heads in time order, as a server cuts them
		traces = append(traces, writeHead(t, s, oracle, g, rng, i, 800, 4)...)
		if i%2 == 1 {
			if err := s.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(s.blocks) != 1 || s.blocks[0].meta.Level != 3 {
		t.Fatalf("%d blocks (first of level %d), want one of level 3", len(s.blocks), s.blocks[0].meta.Level)
	}
	compareWithOracle(t, "compacted three times", s, oracle, traces, now)
}

// TestReadsOlderBlocks opens blocks written by earlier block formats (testdata/v1.blk: every section
// compressed, pages encoded span by span; testdata/v2.blk: a compacted block of version 2, pages compressed in
// row form; testdata/v3.blk: a compacted block of version 3, column pages and index, its level set to 0 so that
// it compacts with a new head's block) and checks every answer against the reference store, before and after
// compaction rewrites them.
func TestReadsOlderBlocks(t *testing.T) {
	for _, tc := range []struct {
		file    string
		seed    uint64 // what wrote the file
		version int
	}{{"testdata/v1.blk", 21, 1}, {"testdata/v2.blk", 22, 2}, {"testdata/v3.blk", 23, 3}} {
		t.Run(tc.file, func(t *testing.T) { readsOlderBlock(t, tc.file, tc.seed, tc.version) })
	}
}

func readsOlderBlock(t *testing.T, file string, seed uint64, version int) {
	const now = 1_700_000_000_000_000_000
	g := spangen.New(seed, now)
	g.Extras = true
	g.Users = 50
	all := g.Spans(600)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00000001.blk"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.blocks) != 1 || s.blocks[0].meta.Version != version {
		t.Fatalf("%d blocks, want the version %d block", len(s.blocks), version)
	}
	oracle := memstore.New()
	oracle.Write(ctx, all)
	var traces [][]*model.Span
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].TraceID == all[i].TraceID {
			j++
		}
		traces = append(traces, all[i:j])
		i = j
	}
	compareWithOracle(t, file, s, oracle, traces, now)
	// Compaction reads it like any other block.
	extra := g.Spans(100)
	if err := s.Write(ctx, extra); err != nil {
		t.Fatal(err)
	}
	oracle.Write(ctx, extra)
	for i := 0; i < len(extra); {
		j := i
		for j < len(extra) && extra[j].TraceID == extra[i].TraceID {
			j++
		}
		traces = append(traces, extra[i:j])
		i = j
	}
	s.Seal(4)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(s.blocks) != 1 || s.blocks[0].meta.Version != blockVersion || !s.blocks[0].meta.ColumnPages || !s.blocks[0].meta.ColumnIndex {
		t.Fatalf("%d blocks after compaction, want 1 of version %d with column pages", len(s.blocks), blockVersion)
	}
	compareWithOracle(t, file+" compacted", s, oracle, traces, now)
}

// TestRefusesNewerBlockVersions: a block of a format this weft does not know is refused with an error naming the
// version, and Open sets it aside rather than failing to start.
func TestRefusesNewerBlockVersions(t *testing.T) {
	raw, err := os.ReadFile("testdata/v1.blk")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte(`"version":1`), []byte(`"version":9`), 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "00000001.blk")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openBlock(path); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("openBlock: %v, want an error naming version 9", err)
	}
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.blocks) != 0 {
		t.Fatal("the block of an unknown version was opened")
	}
	if _, err := os.Stat(path + ".bad"); err != nil {
		t.Fatalf("the block was not set aside: %v", err)
	}
}

// TestDependenciesOfSharedSpans: Zipkin's shared spans (client and server halves with one span ID) give the same
// edges from a block's precomputed edges as from the spans, and as the reference store.
func TestDependenciesOfSharedSpans(t *testing.T) {
	res := func(svc string) *model.Resource { return &model.Resource{Service: svc} }
	tid := model.TraceID{7}
	spans := []*model.Span{
		{TraceID: tid, SpanID: model.SpanID{1}, Name: "root", Start: 100, Duration: 50, Resource: res("web")},
		{TraceID: tid, SpanID: model.SpanID{2}, ParentID: model.SpanID{1}, Name: "call", Start: 110, Duration: 20,
			Resource: res("web"), Kind: model.KindClient},
		{TraceID: tid, SpanID: model.SpanID{2}, ParentID: model.SpanID{1}, Name: "call", Start: 111, Duration: 18,
			Resource: res("api"), Kind: model.KindServer, Flags: model.FlagShared, StatusCode: model.StatusError},
		{TraceID: tid, SpanID: model.SpanID{3}, ParentID: model.SpanID{2}, Name: "query", Start: 112, Duration: 5,
			Resource: res("db")},
		{TraceID: tid, SpanID: model.SpanID{4}, ParentID: model.SpanID{4}, Name: "self", Start: 113, Duration: 1,
			Resource: res("db")},
	}
	oracle := memstore.New()
	oracle.Write(ctx, spans)
	want, _ := oracle.Dependencies(ctx, 0, 0)
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Two writes, so that the block joins two runs of the trace.
	s.Write(ctx, spans[:2])
	s.Write(ctx, spans[2:])
	s.Seal(1)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.blocks[0].meta.EdgesLen == 0 {
		t.Fatal("the block has no edges")
	}
	got, err := s.Dependencies(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || len(want) != 2 {
		t.Fatalf("got %+v, want %+v (two edges)", got, want)
	}
}

func TestTraceCache(t *testing.T) {
	mk := func(n int) []*model.Span { return make([]*model.Span, n) }
	tc := newTraceCache(3 * largeTrace)
	tc.put([2]uint64{1, 1}, mk(largeTrace-1))
	if tc.get([2]uint64{1, 1}) != nil {
		t.Fatal("a small trace was kept")
	}
	a, b, c := mk(largeTrace), mk(2*largeTrace), mk(largeTrace)
	tc.put([2]uint64{1, 2}, a)
	tc.put([2]uint64{1, 3}, b)
	if got := tc.get([2]uint64{1, 2}); len(got) != len(a) || &got[0] != &a[0] {
		t.Fatal("a large trace was not kept")
	}
	tc.put([2]uint64{2, 1}, c) // over the bound: the oldest goes
	if tc.get([2]uint64{1, 2}) != nil || tc.get([2]uint64{1, 3}) == nil || tc.get([2]uint64{2, 1}) == nil {
		t.Fatal("eviction did not drop the oldest trace only")
	}
	if tc.spans != 3*largeTrace {
		t.Fatalf("%d spans counted, want %d", tc.spans, 3*largeTrace)
	}
	tc.put([2]uint64{3, 1}, mk(4*largeTrace)) // bigger than the whole cache: not kept, nothing evicted
	if tc.get([2]uint64{3, 1}) != nil || tc.get([2]uint64{2, 1}) == nil {
		t.Fatal("a trace bigger than the cache changed it")
	}
}

// TestLargeTraceReadTwice reads a trace of more than largeTrace spans from a block twice: the second read comes
// from the trace cache, and both equal what was written.
func TestLargeTraceReadTwice(t *testing.T) {
	g := spangen.New(13, time.Now().UnixNano())
	tid := g.TraceID()
	var spans []*model.Span
	for len(spans) < largeTrace+500 {
		for _, s := range g.Trace() {
			s.TraceID = tid
			spans = append(spans, s)
		}
	}
	s, err := Open(t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < len(spans); i += 1000 {
		s.Write(ctx, spans[i:min(i+1000, len(spans))])
	}
	s.Seal(1)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := s.Trace(ctx, tid)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sortSpans(stripResources(got)), sortSpans(stripResources(spans))) {
			t.Fatalf("read %d: %d spans, want %d (or contents differ)", i, len(got), len(spans))
		}
	}
	if len(s.traces.items) != 1 {
		t.Fatalf("%d traces cached, want 1", len(s.traces.items))
	}
}

func stripResources(spans []*model.Span) []*model.Span {
	out := make([]*model.Span, len(spans))
	for i, sp := range spans {
		c := *sp
		c.Resource = &model.Resource{Service: sp.Service()}
		out[i] = &c
	}
	return out
}

// TestSortRuns: runs come out in trace ID order and, within a trace, in the order the head took them, also when
// IDs share their first 32 bits (which the radix sort orders by).
func TestSortRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var runs []traceRun
	var ids []model.TraceID
	for i := range 5000 {
		var id model.TraceID
		switch {
		case i > 0 && rng.IntN(3) == 0: // another run of a trace seen before
			id = ids[rng.IntN(len(ids))]
		case i > 0 && rng.IntN(4) == 0: // a new trace sharing the first 32 bits of one seen before
			id = ids[rng.IntN(len(ids))]
			for k := 4; k < 16; k++ {
				id[k] = byte(rng.IntN(256))
			}
		default:
			for k := range id {
				id[k] = byte(rng.IntN(256))
			}
		}
		ids = append(ids, id)
		runs = append(runs, traceRun{id, i})
	}
	want := slices.Clone(runs)
	slices.SortStableFunc(want, func(a, b traceRun) int { return bytes.Compare(a.id[:], b.id[:]) })
	if got := sortRuns(runs); !slices.Equal(got, want) {
		t.Fatal("runs out of order")
	}
}

// someTraces makes whole traces with g until they hold n spans or more: the traces, and all their spans in order.
func someTraces(g *spangen.Generator, n int) (traces [][]*model.Span, all []*model.Span) {
	for len(all) < n {
		tr := g.Trace()
		traces = append(traces, tr)
		all = append(all, tr...)
	}
	return traces, all
}
