package trace

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

func TestSpanFields(t *testing.T) {
	p, spans := recorded(t, Config{Resource: &Resource{Service: "matchmaker"}})
	tr := p.Tracer("scope")
	start := time.Unix(1700000000, 0)
	ctx, root := tr.Start(context.Background(), "root", WithKind(KindServer), WithStartTime(start),
		WithAttrs(String("http.route", "/pair"), Bool("b", true), Int64("i", 7), Float64("f", 0.5),
			Strings("ss", []string{"a", "b"}), Int64s("is", []int64{1, 2}), Float64s("fs", []float64{1.5}),
			Bools("bs", []bool{true, false})),
		WithService("matchmaker-db"), WithResource("GET /pair"), WithType("http"))
	root.SetAttrs(String("http.route", "/pair/{id}"), Int("status", 200))
	root.SetStatus(StatusError, "boom")
	root.SetName("root2")
	link := Link{SpanContext: SpanContext{TraceID: TraceID{1}, SpanID: SpanID{2}}, Attrs: []Attr{String("k", "v")}}
	root.AddLink(link)
	root.AddBytesIn(100)
	root.AddBytesOut(20)
	root.AddRetries(2)
	_, child := tr.Start(ctx, "child")
	child.End()
	root.EndAt(start.Add(time.Second))
	root.End() // a second End does nothing

	got := spans()
	r, c := got["root2"], got["child"]
	if r == nil || c == nil {
		t.Fatalf("spans: %v", got)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"kind", r.Kind == KindServer},
		{"start", r.Start == start.UnixNano()},
		{"duration", r.Duration() == int64(time.Second)},
		{"status", r.StatusCode == StatusError && r.StatusMessage == "boom"},
		{"service", r.ServiceName() == "matchmaker-db" && c.ServiceName() == "matchmaker"},
		{"resource/type", r.SpanResource == "GET /pair" && r.SpanType == "http"},
		{"scope", r.Scope == "scope"},
		{"link", len(r.Links) == 1 && r.Links[0].SpanContext.SpanID == SpanID{2}},
		{"parent", c.ParentID == r.SpanID && c.TraceID == r.TraceID && !r.ParentID.IsValid()},
		{"ids", r.TraceID.IsValid() && r.SpanID.IsValid() && c.SpanID != r.SpanID},
		{"sampled", r.Flags&FlagSampled != 0 && r.Priority == 1},
		{"counters", r.Counters == SpanCounters{BytesIn: 100, BytesOut: 20, Retries: 2}},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: wrong in %+v", ch.name, r)
		}
	}
	wantAttrs := []Attr{String("http.route", "/pair/{id}"), Bool("b", true), Int64("i", 7), Float64("f", 0.5),
		Strings("ss", []string{"a", "b"}), Int64s("is", []int64{1, 2}), Float64s("fs", []float64{1.5}),
		Bools("bs", []bool{true, false}), Int64("status", 200),
		Int64(AttrBytesIn, 100), Int64(AttrBytesOut, 20), Int64(AttrRetries, 2)}
	if len(r.Attrs) != len(wantAttrs) {
		t.Fatalf("attrs %v, want %v", r.Attrs, wantAttrs)
	}
	for i := range wantAttrs {
		if !r.Attrs[i].Equal(wantAttrs[i]) {
			t.Errorf("attr %d = %v, want %v", i, r.Attrs[i], wantAttrs[i])
		}
	}
}

func TestRecordError(t *testing.T) {
	p, spans := recorded(t, Config{})
	_, s := p.Tracer("").Start(context.Background(), "op")
	s.RecordError(nil)
	s.RecordError(errors.New("no donut"), String("donut", "glazed"))
	s.End()
	d := spans()["op"]
	if d.StatusCode != StatusError || d.StatusMessage != "no donut" {
		t.Errorf("status %v %q", d.StatusCode, d.StatusMessage)
	}
	ev := eventNamed(d, "exception")
	if len(ev) != 1 {
		t.Fatalf("events %+v", d.Events)
	}
	want := []Attr{String("exception.type", "*errors.errorString"), String("exception.message", "no donut"),
		String("donut", "glazed")}
	for i, a := range want {
		if !ev[0].Attrs[i].Equal(a) {
			t.Errorf("exception attr %d = %v, want %v", i, ev[0].Attrs[i], a)
		}
	}
}

func TestLimits(t *testing.T) {
	p, spans := recorded(t, Config{MaxAttrs: 3, MaxEvents: 2, MaxLinks: 1})
	_, s := p.Tracer("").Start(context.Background(), "op",
		WithAttrs(Int("a", 1), Int("b", 2), Int("c", 3), Int("d", 4), Int("e", 5), Int("f", 6), Int("g", 7)))
	s.SetAttrs(Int("a", 10), Int("z", 1))
	for i := 0; i < 4; i++ {
		s.AddEvent("e")
	}
	s.AddLink(Link{})
	s.AddLink(Link{})
	s.End()
	d := spans()["op"]
	if len(d.Attrs) != 3 || d.DroppedAttrs != 5 || d.Attrs[0].Value.AsInt64() != 10 {
		t.Errorf("attrs %v dropped %d", d.Attrs, d.DroppedAttrs)
	}
	if len(d.Events) != 2 || d.DroppedEvents != 2 || len(d.Links) != 1 || d.DroppedLinks != 1 {
		t.Errorf("events %d/%d links %d/%d", len(d.Events), d.DroppedEvents, len(d.Links), d.DroppedLinks)
	}
}

func TestNilSpan(t *testing.T) {
	var s *Span
	s.SetAttrs(String("a", "b"))
	s.SetStatus(StatusError, "x")
	s.SetName("n")
	s.SetService("s")
	s.SetResource("r")
	s.SetType("t")
	s.RecordError(errors.New("x"))
	s.AddLink(Link{})
	s.AddBytesIn(1)
	s.AddBytesOut(1)
	s.AddRetries(1)
	s.End()
	s.EndAt(time.Now())
	if s.IsRecording() || s.SpanContext().IsValid() || s.AddEvent("e").IsValid() || s.Unit() != 0 ||
		s.AddEventAt(time.Now(), "e").IsValid() || s.AddCausalEvent(context.Background(), "e", EventRef{}).IsValid() {
		t.Error("a nil span did something")
	}
}

func TestRemoteParent(t *testing.T) {
	p, spans := recorded(t, Config{})
	remote := SpanContext{TraceID: TraceID{0xab, 1}, SpanID: SpanID{0xcd, 2}, Flags: FlagSampled,
		TraceState: "weft=00000000000000aa:7,congo=t61", Priority: 2, Origin: "rum", Cause: EventID{Unit: 0xaa, Seq: 7}}
	ctx := ContextWithRemoteSpanContext(context.Background(), remote)
	if sc := SpanContextFromContext(ctx); !sc.Remote || sc.TraceID != remote.TraceID {
		t.Fatalf("remote context: %+v", sc)
	}
	ctx, s := p.Tracer("").Start(ctx, "server", WithKind(KindServer))
	sc := SpanContextFromContext(ctx)
	if sc.Remote || sc.SpanID == remote.SpanID || sc.Priority != 2 || sc.Origin != "rum" || !sc.IsSampled() {
		t.Errorf("local context: %+v", sc)
	}
	s.End()
	d := spans()["server"]
	if d.TraceID != remote.TraceID || d.ParentID != remote.SpanID || d.TraceState != remote.TraceState {
		t.Errorf("span: %+v", d)
	}
	if d.StartCause != (EventRef{EventID: remote.Cause}) || d.StartSeq != 1 {
		t.Errorf("start cause %v seq %d", d.StartCause, d.StartSeq)
	}
	if ContextWithRemoteSpanContext(context.Background(), SpanContext{}) != context.Background() {
		t.Error("an invalid remote context was stored")
	}
}

func TestUnsampled(t *testing.T) {
	p, spans := recorded(t, Config{Sampler: neverSampler{}})
	tr := p.Tracer("")
	ctx, root := tr.Start(context.Background(), "root")
	if root != nil {
		t.Fatal("an unsampled root span is recording")
	}
	sc := SpanContextFromContext(ctx)
	if !sc.IsValid() || sc.IsSampled() {
		t.Fatalf("unsampled root context %+v", sc)
	}
	ctx2, child := tr.Start(ctx, "child")
	if child != nil || ctx2 != ctx {
		t.Error("a child of an unsampled span is recording")
	}
	// A remote unsampled parent: followed by the default sampler.
	p2, spans2 := recorded(t, Config{})
	rctx := ContextWithRemoteSpanContext(context.Background(), SpanContext{TraceID: TraceID{1}, SpanID: SpanID{1}})
	sctx, s := p2.Tracer("").Start(rctx, "server")
	if s != nil || SpanContextFromContext(sctx).TraceID != (TraceID{1}) {
		t.Error("a child of a remote unsampled span is recording or lost its trace")
	}
	if len(spans()) != 0 || len(spans2()) != 0 {
		t.Error("unsampled spans were exported")
	}
	c := p.Counters()
	if c.SpansStarted != 2 || c.SpansSampled != 0 || c.SpansEnded != 0 {
		t.Errorf("counters %+v", c)
	}
}

type neverSampler struct{}

func (neverSampler) ShouldSample(SamplingParams) SamplingResult {
	return SamplingResult{Decision: Drop, Priority: PriorityUnset}
}
func (neverSampler) Description() string { return "never" }

// unitaryTest keeps candidate spans that failed.
type unitaryTest struct{ neverSampler }

func (unitaryTest) ShouldSample(SamplingParams) SamplingResult {
	return SamplingResult{Decision: UnitaryCandidate, Priority: PriorityUnset}
}
func (unitaryTest) KeepUnitary(d *SpanData) bool { return d.StatusCode == StatusError }

func TestUnitary(t *testing.T) {
	p, spans := recorded(t, Config{Sampler: unitaryTest{}})
	tr := p.Tracer("")
	ctx, root := tr.Start(context.Background(), "root")
	if root == nil || SpanContextFromContext(ctx).IsSampled() {
		t.Fatal("a unitary candidate is not recorded, or is propagated as sampled")
	}
	_, failed := tr.Start(ctx, "failed")
	failed.SetStatus(StatusError, "x")
	failed.End()
	_, fine := tr.Start(ctx, "fine")
	fine.End()
	root.End()
	got := spans()
	if len(got) != 1 || got["failed"] == nil || !got["failed"].Unitary {
		t.Errorf("exported %v", got)
	}
	c := p.Counters()
	if c.SpansUnitary != 1 || c.SpansEnded != 3 || c.SpansSampled != 0 || c.SpansStarted != 3 {
		t.Errorf("counters %+v", c)
	}
}

func TestNewRoot(t *testing.T) {
	p, spans := recorded(t, Config{})
	tr := p.Tracer("")
	ctx, a := tr.Start(context.Background(), "a")
	_, b := tr.Start(ctx, "b", WithNewRoot())
	b.End()
	a.End()
	got := spans()
	if got["b"].TraceID == got["a"].TraceID || got["b"].ParentID.IsValid() || got["b"].Unit == got["a"].Unit {
		t.Errorf("new root shares its trace, parent or unit: %+v", got["b"])
	}
}

func TestDefaultProvider(t *testing.T) {
	old := Default()
	defer SetDefault(old)
	p, spans := recorded(t, Config{})
	SetDefault(p)
	_, s := Start(context.Background(), "via default")
	s.End()
	if spans()["via default"] == nil {
		t.Error("the package-level Start did not use the default provider")
	}
}

// TestConcurrentSpan uses one span from many goroutines while others start and end spans; run with -race.
func TestConcurrentSpan(t *testing.T) {
	p, spans := recorded(t, Config{})
	tr := p.Tracer("")
	ctx, root := tr.Start(context.Background(), "root")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				root.SetAttrs(Int("j", j))
				root.AddEvent("tick")
				root.AddBytesIn(1)
				_, s := tr.Start(ctx, "child")
				s.SetStatus(StatusOK, "")
				s.End()
			}
		}()
	}
	wg.Wait()
	root.End()
	got := spans()
	if got["root"].Counters.BytesIn != 800 || len(got["root"].Events) != 128 || got["root"].DroppedEvents != 672 {
		t.Errorf("root: bytes %d events %d dropped %d", got["root"].Counters.BytesIn, len(got["root"].Events),
			got["root"].DroppedEvents)
	}
	if c := p.Counters(); c.SpansEnded != 801 || c.SpansExported+c.SpansDropped != 801 {
		t.Errorf("counters %+v", c)
	}
}

func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	// Spans are reused from the stack of the P that ended them and, failing that, from a sync.Pool that a
	// collection empties: a goroutine that moves to another P, or a collection, makes new spans for a while,
	// which is the pool's cost and not a span's. One P and no collection keep that out of the measurement
	// (without them the test failed about one run in ten).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	p := NewProvider(Config{Exporter: discardExporter{}})
	defer p.Shutdown(context.Background())
	tr := p.Tracer("t")
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	run := func() {
		_, s := tr.Start(ctx, "child", WithKind(KindClient), WithAttrs(Bool("b", true), String("s", "x"), Int64("i", 1), Float64("f", 1.5)))
		s.AddBytesIn(3)
		s.AddEvent("cache miss", Int("n", 1))
		s.SetAttrs(String("late", "x"))
		s.SetStatus(StatusOK, "")
		s.End()
	}
	for i := 0; i < 10000; i++ { // fill the pool and the P's stacks of spans to reuse
		run()
	}
	p.Flush(context.Background())
	for i := 0; i < 1000; i++ {
		run()
	}
	p.Flush(context.Background())
	if n := testing.AllocsPerRun(500, run); n >= 0.5 {
		t.Errorf("a sampled span allocates %v times", n)
	}
	ctxU := ContextWithRemoteSpanContext(context.Background(), SpanContext{TraceID: TraceID{1}, SpanID: SpanID{1}})
	ctxU, _ = tr.Start(ctxU, "unsampled root")
	if n := testing.AllocsPerRun(500, func() {
		_, s := tr.Start(ctxU, "child")
		s.End()
	}); n != 0 {
		t.Errorf("an unsampled span allocates %v times", n)
	}
}

// TestSpanState checks the lock of a span's methods: End takes it for good, waiting for a method that holds it,
// and the span's next life opens it again.
func TestSpanState(t *testing.T) {
	var st spanState
	steps := []struct {
		name string
		do   func() bool
		want bool
	}{
		{"lock an open span", st.lock, true},
		{"unlock", func() bool { st.unlock(); return true }, true},
		{"end", st.end, true},
		{"lock an ended span", st.lock, false},
		{"end it again", st.end, false},
		{"reopen", func() bool { st.reopen(); return true }, true},
		{"lock the next life", st.lock, true},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
	}

	// End waits for the method that holds the lock.
	ended := make(chan bool)
	go func() { ended <- st.end() }()
	select {
	case <-ended:
		t.Fatal("end returned while a method held the lock")
	case <-time.After(20 * time.Millisecond):
	}
	st.unlock()
	if !<-ended {
		t.Fatal("end after the unlock did not end the span")
	}

	// Methods exclude each other: unguarded increments under the lock add up (and -race sees them ordered).
	st.reopen()
	var wg sync.WaitGroup
	n := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if st.lock() {
					n++
					st.unlock()
				}
			}
		}()
	}
	wg.Wait()
	if n != 4000 {
		t.Errorf("%d increments under the lock, want 4000", n)
	}
}

// TestEndWhileMethodsRun ends spans while other goroutines call their methods: nothing a method does after End
// reaches the exported span (its count of events, kept and dropped, never moves after End), and -race sees no
// unordered access.
func TestEndWhileMethodsRun(t *testing.T) {
	p, spans := recorded(t, Config{})
	tr := p.Tracer("")
	for i := range 20 {
		_, s := tr.Start(context.Background(), fmt.Sprint("span", i))
		var wg, started sync.WaitGroup
		run, stop := make(chan struct{}), make(chan struct{})
		for range 3 {
			wg.Add(1)
			started.Add(1)
			go func() {
				defer wg.Done()
				s.AddEvent("first")
				started.Done()
				<-run
				for {
					select {
					case <-stop:
						return
					default:
						s.AddEvent("tick")
						s.SetAttrs(Int("i", i))
					}
				}
			}()
		}
		started.Wait()
		close(run)
		s.End()
		events := func() int { return len(s.data.Events) + s.data.DroppedEvents } // not reused before the flush
		n := events()
		time.Sleep(time.Millisecond)
		if m := events(); m != n {
			t.Fatalf("span%d: %d events at End, %d a millisecond later", i, n, m)
		}
		close(stop)
		wg.Wait()
	}
	for name, d := range spans() {
		if first := len(eventNamed(d, "first")); first != 3 {
			t.Errorf("%s: %d of the 3 events added before End were recorded", name, first)
		}
	}
}

// TestReuseClearsEverything ends spans that each wrote one of the fields a span can hold, then starts plain spans
// that reuse their memory: nothing of the earlier lives may show in the plain spans.
func TestReuseClearsEverything(t *testing.T) {
	link := Link{SpanContext: SpanContext{TraceID: TraceID{1}, SpanID: SpanID{1}}}
	for _, c := range []struct {
		name  string
		opts  []StartOption
		dirty func(ctx context.Context, s *Span)
	}{
		{"service", []StartOption{WithService("svc")}, nil},
		{"resource", []StartOption{WithResource("res")}, nil},
		{"type", []StartOption{WithType("db")}, nil},
		{"cause", []StartOption{WithCause(EventRef{EventID: EventID{Unit: 7, Seq: 1}})}, nil},
		{"links", []StartOption{WithLinks(link)}, nil},
		{"dropped links", []StartOption{WithLinks(link, link)}, nil},
		{"dropped attrs", []StartOption{WithAttrs(Int("a", 1), Int("b", 2), Int("c", 3))}, nil},
		{"attrs", []StartOption{WithKind(KindServer), WithAttrs(Int("a", 1))}, nil},
		{"SetAttrs over the limit", nil, func(_ context.Context, s *Span) { s.SetAttrs(Int("a", 1), Int("b", 2), Int("c", 3)) }},
		{"event", nil, func(_ context.Context, s *Span) { s.AddEvent("e", Int("x", 1)) }},
		{"dropped event", nil, func(_ context.Context, s *Span) { s.AddEvent("e"); s.AddEvent("dropped") }},
		{"AddLink", nil, func(_ context.Context, s *Span) { s.AddLink(link) }},
		{"status", nil, func(_ context.Context, s *Span) { s.SetStatus(StatusError, "boom") }},
		{"SetService", nil, func(_ context.Context, s *Span) { s.SetService("svc") }},
		{"SetResource", nil, func(_ context.Context, s *Span) { s.SetResource("res") }},
		{"SetType", nil, func(_ context.Context, s *Span) { s.SetType("db") }},
		{"counters", nil, func(_ context.Context, s *Span) { s.AddBytesIn(5); s.AddRetries(1) }},
		{"ended on another unit", nil, func(ctx context.Context, s *Span) {
			Go(ctx, func(other context.Context) { s.EndIn(other) }).Join()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &Recorder{}
			p := NewProvider(Config{Exporter: rec, QueueSize: 64, MaxAttrs: 2, MaxEvents: 1, MaxLinks: 1})
			defer p.Shutdown(context.Background())
			tr := p.Tracer("t")
			ctx, root := tr.Start(context.Background(), "root")
			defer root.End()
			for range 200 {
				_, s := tr.Start(ctx, "dirty", c.opts...)
				if c.dirty != nil {
					c.dirty(ctx, s)
				}
				s.End()
			}
			p.Flush(context.Background())
			got := rec.Spans()
			if len(got) == 0 {
				t.Fatal("no dirty span recorded")
			}
			d := got[len(got)-1]
			if clean := cleanSpan(d); fmt.Sprintf("%+v", *d) == fmt.Sprintf("%+v", clean) {
				t.Fatalf("the dirty span wrote nothing beyond a plain span's fields: %+v", *d)
			}
			rec.Reset()
			for range 200 {
				_, s := tr.Start(ctx, "plain")
				s.End()
			}
			p.Flush(context.Background())
			for _, d := range rec.Spans() {
				if got, want := fmt.Sprintf("%+v", *d), fmt.Sprintf("%+v", cleanSpan(d)); d.Name == "plain" && got != want {
					t.Fatalf("a reused span kept something of an earlier life:\n got %s\nwant %s", got, want)
				}
			}
		})
	}
}

// cleanSpan is d with only what a plain child span (no options, no method called) writes.
func cleanSpan(d *SpanData) SpanData {
	return SpanData{TraceID: d.TraceID, SpanID: d.SpanID, ParentID: d.ParentID, Name: d.Name, Kind: KindInternal,
		Flags: d.Flags, Priority: d.Priority, StartSeq: d.StartSeq, EndSeq: d.EndSeq, Start: d.Start, End: d.End,
		Unit: d.Unit, Resource: d.Resource, Scope: d.Scope}
}
