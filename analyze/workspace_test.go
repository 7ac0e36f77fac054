package analyze

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/weftrace/weft/model"
)

// TestWorkspaceConcurrentCalls computes the critical paths and clocks of different traces at once, again and
// again, and checks every answer against the one computed alone: concurrent calls must each have a workspace of
// their own, and a reused workspace must leave nothing of the trace before in the next answer. The traces differ in
// size (a reused workspace shrinks and grows) and in kind (weft and foreign), and are large enough to be read in
// memory order.
func TestWorkspaceConcurrentCalls(t *testing.T) {
	traces := [][]*model.Span{
		genTrace(11, 4, 6000, 3000*us, false),
		genTrace(12, 3, 5000, 0, true),
		genTrace(13, 5, 300, 2000*us, false),
		genTrace(14, 2, 4500, 1000*us, false),
	}
	wantPath := make([]*Path, len(traces))
	wantClock := make([]*Clock, len(traces))
	for i, spans := range traces {
		wantPath[i], wantClock[i] = CriticalPath(spans, ChooseMidpoint), EstimateClock(spans, ChooseZero)
		if len(wantPath[i].Segments) == 0 {
			t.Fatalf("trace %d: no path to compare", i)
		}
	}
	if reflect.DeepEqual(wantPath[0].Segments, wantPath[3].Segments) {
		t.Fatal("the traces do not differ")
	}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 12 {
				i := (g + r) % len(traces) // the two goroutines are always on different traces
				if p := CriticalPath(traces[i], ChooseMidpoint); !reflect.DeepEqual(p, wantPath[i]) {
					t.Errorf("goroutine %d, round %d: the critical path of trace %d differs from the one computed alone", g, r, i)
					return
				}
				if c := EstimateClock(traces[i], ChooseZero); !reflect.DeepEqual(c, wantClock[i]) {
					t.Errorf("goroutine %d, round %d: the clock of trace %d differs from the one computed alone", g, r, i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestRadixSort checks radixSort against slices.Sort on keys of several widths and sizes, including the packed
// keys of CriticalPath (a critical time above an index) and keys that need all four passes.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 255, 256, 1000, 50_000} {
		for _, bits := range []uint{8, 17, 33, 47, 64} {
			keys := make([]uint64, n)
			for i := range keys {
				keys[i] = rng.Uint64() >> (64 - bits)
				if i%7 == 0 && i > 0 {
					keys[i] = keys[i-1] // repeats
				}
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			radixSort(keys, make([]uint64, len(keys)))
			if !slices.Equal(keys, want) {
				t.Errorf("%d keys of %d bits: not sorted as slices.Sort sorts them", n, bits)
			}
		}
	}
}

// TestWorkspaceKeptAcrossCollections checks that the workspace of the last call survives the collections between
// two calls (a sync.Pool alone drops it at every other one) and that, idle, it holds nothing of the trace.
func TestWorkspaceKeptAcrossCollections(t *testing.T) {
	spans := genTrace(21, 3, 5000, 1000*us, false)
	CriticalPath(spans, ChooseZero)
	workspaces.Lock()
	ws := workspaces.kept
	workspaces.Unlock()
	if ws == nil {
		t.Fatal("no workspace kept after a call")
	}
	if ws.t.spans != nil || slices.ContainsFunc(ws.t.res, func(r *model.Resource) bool { return r != nil }) ||
		len(ws.t.procs.res) != 0 || len(ws.t.procs.byRes) != 0 || ws.t.procs.lastRes != nil {
		t.Error("the idle workspace still refers to the trace")
	}
	runtime.GC()
	runtime.GC()
	got := getWorkspace()
	defer got.release()
	if got != ws {
		t.Error("the kept workspace was not found after two collections")
	}
}

// TestManyProcesses gives every span of a 70K-span weft trace whose clocks agree a process of its own: more than
// the clock solves for (maxClockProcesses) and more than events can name (manyProcs), so the clock keeps every
// offset at 0 and the walk finds each event's offset through its span. The path is the one of the same trace in
// one process.
func TestManyProcesses(t *testing.T) {
	one := genTrace(22, 1, 70_000, 0, false)
	if len(one) <= manyProcs {
		t.Fatalf("%d spans: too few", len(one))
	}
	many := make([]*model.Span, len(one))
	for i, s := range one {
		c := *s
		c.Resource = &model.Resource{Service: s.Resource.Service, Attrs: []model.Attr{{Key: "pod", Value: model.Int(int64(i))}}}
		many[i] = &c
	}
	want, got := CriticalPath(one, ChooseZero), CriticalPath(many, ChooseZero)
	if len(got.Clock.Processes) != len(many) || got.Clock.InconsistencyCount != 0 {
		t.Fatalf("%d processes, %d inconsistencies", len(got.Clock.Processes), got.Clock.InconsistencyCount)
	}
	if !reflect.DeepEqual(got.Segments, want.Segments) || got.Length != want.Length || !got.Complete {
		t.Error("the path differs from the one in one process")
	}
}

// TestNumberingChangesNothing checks that numbering the spans in the order of their memory (buildTreeDAG) changes
// no answer: every trace, the generated ones and 1000 made of random bytes (repeated IDs, sequence numbers and
// events, cycles, ties), gives the same critical path and clock, to the order of the inconsistencies, when its spans
// lie in memory in the reverse order of the slice (numbered backwards) as when they are numbered as given.
func TestNumberingChangesNothing(t *testing.T) {
	text := func(spans []*model.Span, choose Choice) string {
		var b strings.Builder
		p := CriticalPath(spans, choose)
		fmt.Fprintf(&b, "%s %v %d %d %d %v\n", p.Method, p.Complete, p.Length, p.Start, p.End, p.Segments)
		for _, s := range p.Spans {
			fmt.Fprintf(&b, "%p %d %d %d\n", s.Span, s.Index, s.Critical, s.Self)
		}
		for _, c := range []*Clock{p.Clock, EstimateClock(spans, choose)} {
			fmt.Fprintf(&b, "%+v %v %d\n", c.Processes, c.SpanProcess, c.InconsistencyCount)
			for _, in := range c.Inconsistencies {
				fmt.Fprintf(&b, "%s %p %p\n", in.Message, in.Cause, in.Effect)
			}
		}
		return b.String()
	}
	var traces [][]*model.Span
	for seed := uint64(1); seed <= 30; seed++ {
		traces = append(traces, genTrace(seed, 1+int(seed%5), 20+int(seed*seed), 5000*us, seed%3 == 0))
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for range 1000 {
		data := make([]byte, 16*(1+rng.IntN(60)))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		traces = append(traces, spansFromBytes(data))
	}
	defer func(m int) { memoryOrderMin = m }(memoryOrderMin)
	differ := 0
	for k, spans := range traces {
		// The same spans, one array in the reverse order of the slice.
		backward := make([]model.Span, len(spans))
		reversed := make([]*model.Span, len(spans))
		for i, s := range spans {
			backward[len(spans)-1-i] = *s
			reversed[i] = &backward[len(spans)-1-i]
		}
		choose := Choice(k % 2)
		memoryOrderMin = 1 << 30
		want := text(reversed, choose)
		memoryOrderMin = 2
		if len(spans) > 2 && memoryOrder(reversed, new([]int32), new([]int32)) == nil {
			t.Fatalf("trace %d: the reversed layout is not renumbered", k)
		}
		if got := text(reversed, choose); got != want {
			differ++
			if differ <= 3 {
				t.Errorf("trace %d (%d spans): numbered in memory order, the answer differs:\n%s\nwant\n%s", k, len(spans), got, want)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d traces differ", differ, len(traces))
	}
}
