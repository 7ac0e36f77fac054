package analyze

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/weftrace/weft/model"
)

// pathText renders segments as "name kind [from,to]" in microseconds relative to base.
func pathText(p *Path, base int64) string {
	var b strings.Builder
	for _, s := range p.Segments {
		fmt.Fprintf(&b, "%s %s [%d,%d]\n", p.SpanAt(int(s.Index)).Name, s.Kind, (s.Start-base)/us, (s.End-base)/us)
	}
	return b.String()
}

func TestCriticalPathHeuristic(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *builder)
		want  string
	}{{
		name: "sequential children",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			b.span(r, "front", "a", model.KindInternal, 10, 40)
			b.span(r, "front", "b", model.KindInternal, 50, 90)
		},
		want: "root run [0,10]\na run [10,40]\nroot run [40,50]\nb run [50,90]\nroot run [90,100]\n",
	}, {
		name: "parallel children: the one that ended last",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			b.span(r, "front", "a", model.KindInternal, 10, 80)
			b.span(r, "front", "b", model.KindInternal, 10, 60)
		},
		want: "root run [0,10]\na run [10,80]\nroot run [80,100]\n",
	}, {
		name: "a child running past its parent counts up to the parent's end",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			b.span(r, "front", "late", model.KindInternal, 50, 150)
		},
		want: "root run [0,50]\nlate run [50,100]\n",
	}, {
		name: "an asynchronous consumer after its producer ended is off the path",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			p := b.span(r, "front", "produce", model.KindProducer, 20, 30)
			b.span(p, "worker", "consume", model.KindConsumer, 40, 200)
		},
		want: "root run [0,20]\nproduce run [20,30]\nroot run [30,100]\n",
	}, {
		name: "a span hanging by a follows-from link is not waited for",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			l := b.span(nil, "front", "linked", model.KindInternal, 20, 90)
			l.Links = []model.Link{{TraceID: r.TraceID, SpanID: r.SpanID}}
			b.span(r, "front", "child", model.KindInternal, 10, 30)
		},
		want: "root run [0,10]\nchild run [10,30]\nroot run [30,100]\n",
	}, {
		name: "a consumer overlapping its producer is not waited for",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			p := b.span(r, "front", "produce", model.KindProducer, 20, 40)
			b.span(p, "worker", "consume", model.KindConsumer, 30, 90)
		},
		want: "root run [0,20]\nproduce run [20,40]\nroot run [40,100]\n",
	}, {
		name: "nested overlap",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			a := b.span(r, "front", "a", model.KindInternal, 10, 90)
			b.span(a, "front", "a1", model.KindInternal, 20, 50)
			b.span(a, "front", "a2", model.KindInternal, 30, 80)
		},
		want: "root run [0,10]\na run [10,20]\na1 run [20,30]\na2 run [30,80]\na run [80,90]\nroot run [90,100]\n",
	}, {
		name: "a Zipkin server span sharing its client's ID",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			c := b.span(r, "front", "call", model.KindClient, 10, 90)
			// Its clock is 1000µs ahead, as above; it names its client's parent, and its child names the shared ID.
			s := b.span(r, "back", "serve", model.KindServer, 1020, 1080)
			s.SpanID, s.Flags = c.SpanID, model.FlagShared
			b.span(s, "back", "query", model.KindClient, 1030, 1070)
		},
		want: "root run [0,10]\ncall run [10,20]\nserve run [20,30]\nquery run [30,70]\nserve run [70,80]\ncall run [80,90]\nroot run [90,100]\n",
	}, {
		name: "a client and its server in a skewed process",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 100)
			c := b.span(r, "front", "call", model.KindClient, 10, 90)
			// The server's clock is 1000µs ahead: raw [1020,1080] lies outside its client; adjusted [20,80].
			b.span(c, "back", "serve", model.KindServer, 1020, 1080)
		},
		want: "root run [0,10]\ncall run [10,20]\nserve run [20,80]\ncall run [80,90]\nroot run [90,100]\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(1)
			tt.build(b)
			p := CriticalPath(b.spans, ChooseMidpoint)
			if p.Method != MethodHeuristic || !p.Complete {
				t.Errorf("method %s complete %v", p.Method, p.Complete)
			}
			if got := pathText(p, p.Start); got != tt.want {
				t.Errorf("path:\n%s\nwant:\n%s", got, tt.want)
			}
			checkPath(t, p, b.spans)
		})
	}
}

// weftTrace is a hand-built weft trace: a root on unit 1 of "matchmaker" calls "taster" twice in sequence (each
// server span on its own unit), then forks a goroutine and joins it. Times in µs; taster's clock is skewed by skew.
func weftTrace(skew int64) *builder {
	b := newBuilder(2)
	r := weft(b.span(nil, "matchmaker", "GET /pair/beer", model.KindServer, 0, 100), 1, 1, 10, model.EventRef{})
	c1 := weft(b.span(r, "matchmaker", "taster.Rate", model.KindClient, 5, 40), 1, 2, 4, model.EventRef{})
	addEvent(c1, "weft.send", 3, 6, model.EventRef{})
	weft(b.span(c1, "taster", "POST /rate", model.KindServer, 10+skew, 35+skew), 2, 1, 2, ref(1, 3))
	c2 := weft(b.span(r, "matchmaker", "taster.Rate", model.KindClient, 45, 90), 1, 5, 7, model.EventRef{})
	addEvent(c2, "weft.send", 6, 46, model.EventRef{})
	weft(b.span(c2, "taster", "POST /rate", model.KindServer, 50+skew, 85+skew), 3, 1, 2, ref(1, 6))
	addEvent(r, "weft.fork", 8, 91, model.EventRef{})
	weft(b.span(r, "matchmaker", "cache.Put", model.KindInternal, 92, 95), 4, 1, 2, ref(1, 8))
	addEvent(r, "weft.join", 9, 97, ref(4, 2))
	return b
}

func TestCriticalPathCausal(t *testing.T) {
	b := weftTrace(0)
	p := CriticalPath(b.spans, ChooseZero)
	want := `GET /pair/beer run [0,5]
taster.Rate run [5,6]
POST /rate transit [6,10]
POST /rate run [10,35]
taster.Rate transit [35,40]
GET /pair/beer run [40,45]
taster.Rate run [45,46]
POST /rate transit [46,50]
POST /rate run [50,85]
taster.Rate transit [85,90]
GET /pair/beer run [90,91]
cache.Put transit [91,92]
cache.Put run [92,95]
GET /pair/beer transit [95,97]
GET /pair/beer run [97,100]
`
	if p.Method != MethodCausal || !p.Complete {
		t.Fatalf("method %s complete %v", p.Method, p.Complete)
	}
	if got := pathText(p, p.Start); got != want {
		t.Errorf("path:\n%s\nwant:\n%s", got, want)
	}
	if p.Length != 100*us {
		t.Errorf("length %d, want 100µs", p.Length)
	}
	// Both taster calls are on the path, and named by service.
	var taster []string
	for _, st := range p.Spans {
		if st.Span.Service() == "taster" {
			taster = append(taster, fmt.Sprintf("%d/%d", st.Critical/us, st.Self/us))
		}
	}
	// The second call: 4µs of network, 35µs of work; the first: 4µs and 25µs. Most critical first.
	if got := strings.Join(taster, " "); got != "39/35 29/25" {
		t.Errorf("taster spans critical/self %s, want 39/35 29/25", got)
	}
	checkPath(t, p, b.spans)
}

func TestCriticalPathCausalSkewed(t *testing.T) {
	// taster's clock is 1ms ahead; with the midpoint the servers sit in the middle of what their clients allow.
	b := weftTrace(1000)
	p := CriticalPath(b.spans, ChooseMidpoint)
	if !p.Complete || p.Length != 100*us {
		t.Fatalf("complete %v length %d", p.Complete, p.Length)
	}
	if got := p.Clock.Processes[1].Offset; got != -999500 {
		t.Errorf("taster offset %d, want -999500", got)
	}
	var names []string
	for _, s := range p.Segments {
		if sp := p.SpanAt(int(s.Index)); sp.Service() == "taster" && s.Kind == SegmentRun {
			names = append(names, sp.Name)
		}
	}
	if len(names) != 2 {
		t.Errorf("taster run segments %v, want both calls", names)
	}
	checkPath(t, p, b.spans)
}

func TestCriticalPathForeignServerInWeftTrace(t *testing.T) {
	b := weftTrace(0)
	for _, s := range b.spans {
		if s.Service() == "taster" {
			s.Causality = model.Causality{} // a server without the weft library
		}
	}
	p := CriticalPath(b.spans, ChooseZero)
	if p.Method != MethodCausal || !p.Complete || p.Length != 100*us {
		t.Fatalf("method %s complete %v length %d", p.Method, p.Complete, p.Length)
	}
	onPath := 0
	for _, st := range p.Spans {
		if st.Span.Service() == "taster" {
			onPath++
		}
	}
	if onPath != 2 {
		t.Errorf("%d foreign taster spans on the path, want 2:\n%s", onPath, pathText(p, p.Start))
	}
	checkPath(t, p, b.spans)
}

func TestCriticalPathMissingCause(t *testing.T) {
	b := newBuilder(3)
	r := weft(b.span(nil, "a", "root", model.KindServer, 0, 100), 1, 1, 3, model.EventRef{})
	addEvent(r, "weft.join", 2, 90, ref(9, 9)) // waits for an event the trace does not have
	p := CriticalPath(b.spans, ChooseZero)
	if !p.Complete || p.Length != 100*us {
		t.Errorf("complete %v length %d: a missing cause is skipped, the unit's own events remain", p.Complete, p.Length)
	}
	// A goroutine's span whose fork is missing, on the path through a join: the walk stops there.
	b = newBuilder(4)
	r = weft(b.span(nil, "a", "root", model.KindServer, 0, 100), 1, 1, 3, model.EventRef{})
	weft(b.span(r, "a", "orphan", model.KindInternal, 20, 95), 2, 1, 2, ref(1, 77))
	addEvent(r, "weft.join", 2, 98, ref(2, 2))
	p = CriticalPath(b.spans, ChooseZero)
	if p.Complete || p.Length != 80*us {
		t.Errorf("complete %v length %dµs, want incomplete 80µs:\n%s", p.Complete, p.Length/us, pathText(p, p.Start))
	}
	checkPath(t, p, b.spans)
}

func TestCriticalPathEmptyAndCycles(t *testing.T) {
	if p := CriticalPath(nil, ChooseZero); p.Root != nil || len(p.Segments) != 0 {
		t.Errorf("empty trace: %+v", p)
	}
	b := newBuilder(5)
	x := b.span(nil, "a", "x", model.KindInternal, 0, 10)
	y := b.span(x, "a", "y", model.KindInternal, 2, 8)
	x.ParentID = y.SpanID // a parent cycle
	p := CriticalPath(b.spans, ChooseZero)
	if p.Root == nil || p.Length != 10*us && p.Length != 6*us {
		t.Errorf("cycle: root %v length %d", p.Root, p.Length)
	}
	// A cause cycle between two events must not loop.
	b = newBuilder(6)
	r := weft(b.span(nil, "a", "root", model.KindServer, 0, 10), 1, 1, 4, model.EventRef{})
	addEvent(r, "e2", 2, 5, ref(1, 3))
	addEvent(r, "e3", 3, 5, ref(1, 2))
	p = CriticalPath(b.spans, ChooseZero)
	checkPath(t, p, b.spans)
}

// checkPath verifies what every critical path must satisfy.
func checkPath(t *testing.T, p *Path, spans []*model.Span) {
	t.Helper()
	if len(spans) == 0 {
		return
	}
	lo, hi := traceBounds(spans)
	if p.Length > hi-lo {
		t.Errorf("path length %d exceeds the trace's duration %d", p.Length, hi-lo)
	}
	if p.Length > p.End-p.Start {
		t.Errorf("path length %d exceeds the root's duration %d", p.Length, p.End-p.Start)
	}
	sum := int64(0)
	for i, s := range p.Segments {
		if s.End <= s.Start {
			t.Errorf("segment %d empty or reversed: %+v", i, s)
		}
		if s.Start < p.Start || s.End > p.End {
			t.Errorf("segment %d [%d,%d] outside the root [%d,%d]", i, s.Start, s.End, p.Start, p.End)
		}
		if i > 0 && p.Segments[i-1].End != s.Start {
			t.Errorf("segments %d and %d not contiguous: %d then %d", i-1, i, p.Segments[i-1].End, s.Start)
		}
		if s.Index < 0 || int(s.Index) >= len(spans) || p.SpanAt(int(s.Index)) != spans[s.Index] {
			t.Errorf("segment %d index %d names no span given", i, s.Index)
		}
		sum += s.End - s.Start
	}
	if sum != p.Length {
		t.Errorf("segments sum to %d, length %d", sum, p.Length)
	}
	if p.Complete && len(p.Segments) > 0 && (p.Segments[0].Start != p.Start || p.Segments[len(p.Segments)-1].End != p.End) {
		t.Errorf("complete path does not span the root: %d..%d vs %d..%d", p.Segments[0].Start, p.Segments[len(p.Segments)-1].End, p.Start, p.End)
	}
	crit := int64(0)
	for _, st := range p.Spans {
		crit += st.Critical
		if st.Self < 0 || st.Self > st.Span.Duration {
			t.Errorf("self time %d of a %d span", st.Self, st.Span.Duration)
		}
	}
	if crit != p.Length {
		t.Errorf("per-span critical times sum to %d, length %d", crit, p.Length)
	}
}

func TestCriticalPathProperties(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		foreign := seed%3 == 0
		spans := genTrace(seed, 1+int(seed%5), 20+int(seed*7), 5000*us, foreign)
		for _, choose := range []Choice{ChooseZero, ChooseMidpoint} {
			p := CriticalPath(spans, choose)
			t.Run(fmt.Sprintf("seed%d/%s", seed, choose), func(t *testing.T) {
				checkPath(t, p, spans)
				if !p.Complete || p.Length != p.End-p.Start {
					t.Errorf("consistent trace: complete %v, length %d of root %d", p.Complete, p.Length, p.End-p.Start)
				}
				want := MethodCausal
				if foreign {
					want = MethodHeuristic
				}
				if p.Method != want {
					t.Errorf("method %s, want %s", p.Method, want)
				}
				if p.Clock.InconsistencyCount != 0 {
					t.Errorf("consistent trace reported inconsistent: %v", p.Clock.Inconsistencies[0].Message)
				}
			})
		}
	}
}

// A server that names its reply (HTTP's Weft-Reply header): the client's weft.receive waits for the reply's send,
// so the path runs through the reply exactly, and the server span ending after its client has read the reply is
// no inconsistency and moves no clock.
func TestCriticalPathNamedReply(t *testing.T) {
	b := newBuilder(8)
	r := weft(b.span(nil, "matchmaker", "GET /pair/beer", model.KindServer, 0, 100), 1, 1, 6, model.EventRef{})
	c := weft(b.span(r, "matchmaker", "GET taster", model.KindClient, 5, 41), 1, 2, 5, model.EventRef{})
	addEvent(c, "weft.send", 3, 6, model.EventRef{})
	addEvent(c, "weft.receive", 4, 40, ref(2, 2))
	s := weft(b.span(c, "taster", "GET /taste", model.KindServer, 10, 45), 2, 1, 3, ref(1, 3))
	addEvent(s, "weft.send", 2, 35, model.EventRef{})
	p := CriticalPath(b.spans, ChooseZero)
	want := `GET /pair/beer run [0,5]
GET taster run [5,6]
GET /taste transit [6,10]
GET /taste run [10,35]
GET taster transit [35,40]
GET taster run [40,41]
GET /pair/beer run [41,100]
`
	if got := pathText(p, p.Start); got != want || !p.Complete {
		t.Errorf("complete %v, path:\n%s\nwant:\n%s", p.Complete, got, want)
	}
	taster := p.Clock.Processes[1]
	if p.Clock.InconsistencyCount != 0 || taster.Offset != 0 || taster.Lower != -4*us || taster.Upper != 5*us {
		t.Errorf("clock %+v, inconsistencies %v", taster, p.Clock.Inconsistencies)
	}
	checkPath(t, p, b.spans)
}

// TestSortFew checks the insertion sort of a unit's events against slices.SortFunc, which it replaces for small
// units and whose order of equal events it must keep.
func TestSortFew(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for n := 0; n <= 12; n++ {
		for range 200 {
			evs := make([]event, n)
			for i := range evs {
				evs[i] = event{seq: uint32(rng.IntN(4)), kind: uint8(rng.IntN(3)), span: int32(i)}
			}
			want := slices.Clone(evs)
			slices.SortFunc(want, func(a, b event) int {
				if a.seq != b.seq {
					return cmpInt64(int64(a.seq), int64(b.seq))
				}
				return int(a.kind) - int(b.kind)
			})
			sortFew(evs, nil)
			if !slices.Equal(evs, want) {
				t.Fatalf("n=%d: got %v, want %v", n, evs, want)
			}
		}
	}
}

// A cause in another trace is not followed, even when this trace has an event with the same unit and sequence
// number: the join counts as waiting for nothing, and the path runs on the root's own unit.
func TestCriticalPathCauseInAnotherTrace(t *testing.T) {
	b := newBuilder(5)
	r := weft(b.span(nil, "a", "root", model.KindServer, 0, 100), 1, 1, 4, model.EventRef{})
	addEvent(r, "weft.fork", 2, 10, model.EventRef{})
	weft(b.span(r, "a", "child", model.KindInternal, 12, 95), 2, 1, 2, ref(1, 2))
	other := ref(2, 2)
	other.TraceID[0] = 0x77 // another trace's unit 2, event 2
	addEvent(r, "weft.join", 3, 97, other)
	p := CriticalPath(b.spans, ChooseZero)
	if want := "root run [0,100]\n"; pathText(p, p.Start) != want || !p.Complete {
		t.Errorf("complete %v, path:\n%s\nwant:\n%s", p.Complete, pathText(p, p.Start), want)
	}
	// The same join naming this trace's event waits for the child.
	r.Events[1].Cause.TraceID = b.trace
	p = CriticalPath(b.spans, ChooseZero)
	if want := "root run [0,10]\nchild transit [10,12]\nchild run [12,95]\nroot transit [95,97]\nroot run [97,100]\n"; pathText(p, p.Start) != want {
		t.Errorf("path:\n%s\nwant:\n%s", pathText(p, p.Start), want)
	}
	checkPath(t, p, b.spans)
}

// TestMemoryOrderChangesNothing checks that a large trace (read in the order its spans lie in memory) gives the
// same critical path and clock however its spans are laid out: scattered, in one array in slice order, and in one
// array in the reverse order.
func TestMemoryOrderChangesNothing(t *testing.T) {
	spans := genTrace(11, 4, 6000, 3000*us, false)
	if len(spans) < 4096 {
		t.Fatalf("%d spans: too few to be read in memory order", len(spans))
	}
	text := func(spans []*model.Span) string {
		var b strings.Builder
		p := CriticalPath(spans, ChooseMidpoint)
		fmt.Fprintf(&b, "%s %v %d\n%s", p.Method, p.Complete, p.Length, pathText(p, p.Start))
		for _, s := range p.Spans {
			fmt.Fprintf(&b, "%s %d %d %d\n", s.Span.SpanID, s.Index, s.Critical, s.Self)
		}
		c := EstimateClock(spans, ChooseMidpoint)
		for _, pr := range c.Processes {
			fmt.Fprintf(&b, "%+v\n", pr)
		}
		for _, in := range c.Inconsistencies {
			b.WriteString(in.Message + "\n")
		}
		return b.String()
	}
	want := text(spans)
	forward, backward := make([]model.Span, len(spans)), make([]model.Span, len(spans))
	inOrder, reversed := make([]*model.Span, len(spans)), make([]*model.Span, len(spans))
	for i, s := range spans {
		forward[i], backward[len(spans)-1-i] = *s, *s
		inOrder[i], reversed[i] = &forward[i], &backward[len(spans)-1-i]
	}
	mo := func(spans []*model.Span) []int32 { return memoryOrder(spans, new([]int32), new([]int32)) }
	if mo(spans) == nil || mo(inOrder) != nil || mo(reversed) == nil {
		t.Fatal("the layouts do not exercise both ways of reading")
	}
	for name, layout := range map[string][]*model.Span{"slice order": inOrder, "reversed": reversed} {
		if got := text(layout); got != want {
			t.Errorf("%s: the answer differs from the scattered spans'", name)
		}
	}
}
