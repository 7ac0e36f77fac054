package embedded

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/store/memstore"
)

// spareFiles gives the sizes of dir's spare files, by name.
func spareFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), spareSuffix) {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = info.Size()
		}
	}
	return out
}

// TestBlocksAreWrittenOverSpares compacts, so that the inputs' files become spares, and checks that the next
// blocks are written over them, that every answer stays right (the spares' earlier contents cut off), and that a
// reopened store takes the spares it finds.
func TestBlocksAreWrittenOverSpares(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(51, now)
	g.Extras = true
	rng := rand.New(rand.NewPCG(51, 52))
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	oracle := memstore.New()
	var traces [][]*model.Span
	for i := range 2 {
		traces = append(traces, writeHead(t, s, oracle, g, rng, i, 2000, 4)...)
	}
	inputs := map[int64]bool{}
	for _, b := range s.blocks {
		inputs[b.size] = true
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	spare := spareFiles(t, dir)
	if len(spare) != 2 {
		t.Fatalf("after a compaction of 2 blocks, %d spare files, want 2", len(spare))
	}
	for name, size := range spare {
		if !inputs[size] {
			t.Fatalf("spare %s is %d bytes, the size of no input", name, size)
		}
	}
	// The next head is written over a spare, much larger than it: the spare's tail must not stay.
	traces = append(traces, writeHead(t, s, oracle, g, rng, 2, 100, 1)...)
	if n := len(spareFiles(t, dir)); n != 1 {
		t.Fatalf("%d spare files after the next head, want 1: it was not written over one", n)
	}
	compareWithOracle(t, "written over a spare", s, oracle, traces, now)
	if err := s.Compact(); err != nil { // over the other spare
		t.Fatal(err)
	}
	compareWithOracle(t, "merged over a spare", s, oracle, traces, now)
	left := spareFiles(t, dir)
	s.Close()

	s2, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := len(s2.spares.free); got != len(left) {
		t.Fatalf("reopened store took %d spares, %d are there", got, len(left))
	}
	compareWithOracle(t, "reopened", s2, oracle, traces, now)
}

// TestSpareIsNotWrittenWhileRead holds a block, as a query does, while compaction drops it: its file is a spare
// only once the hold ends, and no block is written over it before that.
func TestSpareIsNotWrittenWhileRead(t *testing.T) {
	now := time.Now().UnixNano()
	g := spangen.New(53, now)
	rng := rand.New(rand.NewPCG(53, 54))
	dir := t.TempDir()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oracle := memstore.New()
	var traces [][]*model.Span
	for i := range 2 {
		traces = append(traces, writeHead(t, s, oracle, g, rng, i, 500, 2)...)
	}
	sn, err := s.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.spares.free); n != 0 {
		t.Fatalf("%d spares free while their blocks are read", n)
	}
	writeHead(t, s, oracle, g, rng, 2, 500, 2)
	if n := len(spareFiles(t, dir)); n != 2 {
		t.Fatalf("%d spare files, want the 2 still read", n)
	}
	n := 0
	for _, b := range sn.blocks { // the held blocks still read whole
		for ord := range b.ids {
			spans, err := b.traceSpans(newPageCache(0), s.traces, ord)
			if err != nil {
				t.Fatalf("a held block no longer reads: %v", err)
			}
			n += len(spans)
		}
	}
	if want := spanCount(traces); n != want {
		t.Fatalf("the held blocks read %d spans, want %d", n, want)
	}
	sn.release()
	if n := len(s.spares.free); n != 2 {
		t.Fatalf("%d spares free once the hold ended, want 2", n)
	}
}

func spanCount(traces [][]*model.Span) int {
	n := 0
	for _, tr := range traces {
		n += len(tr)
	}
	return n
}

// TestSparesAreBounded: past SpareBytes, a dropped block's file is deleted.
func TestSparesAreBounded(t *testing.T) {
	dir := t.TempDir()
	sp := newSpares(dir, 100, prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"}))
	for i, size := range []int64{60, 30, 20} {
		path := filepath.Join(dir, strings.Repeat("x", i+1))
		if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		if name := sp.retire(path, size); name != "" {
			sp.release(name, size)
		}
	}
	got := spareFiles(t, dir)
	if len(got) != 2 || sp.bytes != 90 {
		t.Fatalf("spares %v (%d bytes), want the first two, 90 bytes", got, sp.bytes)
	}
	if _, err := os.Stat(filepath.Join(dir, "xxx")); !os.IsNotExist(err) {
		t.Fatalf("the file past the bound was not deleted: %v", err)
	}
}

// TestSpareTakeFits: the smallest spare large enough, else the largest.
func TestSpareTakeFits(t *testing.T) {
	dir := t.TempDir()
	sp := newSpares(dir, 1<<20, prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"}))
	for _, size := range []int64{50, 10, 30, 70} {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		sp.release(sp.retire(path, size), size)
	}
	for _, c := range []struct{ want, got int64 }{{25, 30}, {0, 10}, {100, 70}, {40, 50}} {
		path := filepath.Join(dir, "taken")
		if !sp.take(path, c.want) {
			t.Fatalf("nothing taken for %d bytes", c.want)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() != c.got {
			t.Fatalf("for %d bytes took a spare of %d, want %d", c.want, info.Size(), c.got)
		}
	}
	if sp.take(filepath.Join(dir, "none"), 1) || sp.bytes != 0 {
		t.Fatalf("a spare taken from none left (%d bytes counted)", sp.bytes)
	}
}
