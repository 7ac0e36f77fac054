package trace

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestUnits checks the events that execution units record, for the shapes of concurrency a program has.
func TestUnits(t *testing.T) {
	type want struct {
		span      string
		startSeq  uint32
		endSeq    uint32
		sameUnit  string // the span that must be on the same unit ("" none)
		causeFrom string // the span whose event must be the start cause ("" none)
		causeName string // the name of that event
	}
	tests := []struct {
		name  string
		run   func(tr *Tracer)
		check []want
		joins map[string]int // span → number of join events naming a real event
	}{
		{
			name: "sequential children share the unit",
			run: func(tr *Tracer) {
				ctx, root := tr.Start(context.Background(), "root")
				_, a := tr.Start(ctx, "a")
				a.End()
				_, b := tr.Start(ctx, "b")
				b.End()
				root.End()
			},
			check: []want{
				{span: "root", startSeq: 1, endSeq: 6},
				{span: "a", startSeq: 2, endSeq: 3, sameUnit: "root"},
				{span: "b", startSeq: 4, endSeq: 5, sameUnit: "root"},
			},
		},
		{
			name: "Go forks a unit and Join joins it",
			run: func(tr *Tracer) {
				ctx, root := tr.Start(context.Background(), "root")
				task := Go(ctx, func(ctx context.Context) {
					_, w := tr.Start(ctx, "worker")
					w.End()
					_, w2 := tr.Start(ctx, "worker2")
					w2.End()
				})
				task.Join()
				task.Join() // a second Join records nothing more
				root.End()
			},
			check: []want{
				{span: "root", startSeq: 1, endSeq: 4},
				{span: "worker", startSeq: 1, endSeq: 2, causeFrom: "root", causeName: EventFork},
				{span: "worker2", startSeq: 3, endSeq: 4, sameUnit: "worker"},
			},
			joins: map[string]int{"root": 1},
		},
		{
			name: "a group forks and joins each goroutine",
			run: func(tr *Tracer) {
				ctx, root := tr.Start(context.Background(), "root")
				g := NewGroup(ctx)
				for _, name := range []string{"g1", "g2", "g3"} {
					g.Go(func(ctx context.Context) error {
						_, s := tr.Start(ctx, name)
						s.End()
						return nil
					})
				}
				if err := g.Wait(); err != nil {
					panic(err)
				}
				root.End()
			},
			check: []want{
				{span: "root", startSeq: 1, endSeq: 8},
				{span: "g1", startSeq: 1, endSeq: 2, causeFrom: "root", causeName: EventFork},
				{span: "g2", startSeq: 1, endSeq: 2, causeFrom: "root", causeName: EventFork},
				{span: "g3", startSeq: 1, endSeq: 2, causeFrom: "root", causeName: EventFork},
			},
			joins: map[string]int{"root": 3},
		},
		{
			name: "a span started on a forked goroutine from an outer context",
			run: func(tr *Tracer) {
				ctx, root := tr.Start(context.Background(), "root")
				Go(ctx, func(ctx context.Context) {
					ctx, inner := tr.Start(ctx, "inner")
					_, leaf := tr.Start(ctx, "leaf")
					leaf.End()
					inner.End()
				}).Join()
				root.End()
			},
			check: []want{
				{span: "inner", startSeq: 1, endSeq: 4, causeFrom: "root", causeName: EventFork},
				{span: "leaf", startSeq: 2, endSeq: 3, sameUnit: "inner"},
			},
			joins: map[string]int{"root": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, spans := recorded(t, Config{})
			tt.run(p.Tracer(""))
			got := spans()
			for _, w := range tt.check {
				d := got[w.span]
				if d == nil {
					t.Fatalf("no span %q in %v", w.span, got)
				}
				if d.Unit == 0 || d.StartSeq != w.startSeq || d.EndSeq != w.endSeq {
					t.Errorf("%s: unit %x seq %d..%d, want %d..%d", w.span, d.Unit, d.StartSeq, d.EndSeq, w.startSeq, w.endSeq)
				}
				if w.sameUnit != "" && got[w.sameUnit].Unit != d.Unit {
					t.Errorf("%s: unit %x, want %s's %x", w.span, d.Unit, w.sameUnit, got[w.sameUnit].Unit)
				}
				if w.sameUnit == "" && w.span != "root" && got["root"] != nil && got["root"].Unit == d.Unit {
					t.Errorf("%s: on the root's unit", w.span)
				}
				if w.causeFrom != "" {
					from := got[w.causeFrom]
					found := false
					for _, e := range eventNamed(from, w.causeName) {
						if (EventRef{EventID: EventID{Unit: e.Unit, Seq: e.Seq}}) == d.StartCause {
							found = true
						}
					}
					if !found {
						t.Errorf("%s: start cause %v is not a %s event of %s (%+v)", w.span, d.StartCause, w.causeName, w.causeFrom, from.Events)
					}
				} else if d.StartCause.IsValid() {
					t.Errorf("%s: unexpected start cause %v", w.span, d.StartCause)
				}
			}
			for span, n := range tt.joins {
				joins := eventNamed(got[span], EventJoin)
				if len(joins) != n {
					t.Errorf("%s: %d joins, want %d", span, len(joins), n)
				}
				for _, j := range joins {
					// The join names the joined unit's last event: the end of a span on it.
					named := false
					for _, d := range got {
						if d.Unit == j.Cause.Unit && d.EndSeq == j.Cause.Seq {
							named = true
						}
					}
					if !named {
						t.Errorf("%s: join cause %v names no span's end", span, j.Cause)
					}
				}
			}
		})
	}
}

// Wait joins each goroutine as it returns, so that the last join names the goroutine that finished last and the
// critical path, which follows the dependency satisfied last, goes through the slowest goroutine.
func TestGroupJoinsInOrderOfReturn(t *testing.T) {
	p, spans := recorded(t, Config{})
	tr := p.Tracer("")
	ctx, root := tr.Start(context.Background(), "root")
	g := NewGroup(ctx)
	release := make(chan struct{})
	g.Go(func(ctx context.Context) error {
		<-release
		_, s := tr.Start(ctx, "slow")
		s.End()
		return nil
	})
	g.Go(func(ctx context.Context) error {
		_, s := tr.Start(ctx, "fast")
		s.End()
		return nil
	})
	waited := make(chan error)
	go func() { waited <- g.Wait() }()
	// root: start 1, forks 2 and 3; fast's join is 4, recorded while slow still runs.
	for deadline := time.Now().Add(10 * time.Second); CurrentEvent(ctx).Seq < 4; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fast's join was not recorded while slow ran: root's last event is %v", CurrentEvent(ctx))
		}
	}
	close(release)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	root.End()
	got := spans()
	joins := eventNamed(got["root"], EventJoin)
	if len(joins) != 2 {
		t.Fatalf("%d joins, want 2", len(joins))
	}
	for i, name := range []string{"fast", "slow"} {
		d := got[name]
		if want := (EventRef{EventID: EventID{Unit: d.Unit, Seq: d.EndSeq}}); joins[i].Cause != want {
			t.Errorf("join %d names %v, want %s's end %v", i, joins[i].Cause, name, want)
		}
		if joins[i].Time < d.End {
			t.Errorf("join %d at %d, before %s ended at %d", i, joins[i].Time, name, d.End)
		}
	}
}

func TestGroupError(t *testing.T) {
	g := NewGroup(context.Background())
	want := errors.New("first")
	g.Go(func(context.Context) error { return want })
	if err := g.Wait(); err != want {
		t.Errorf("Wait = %v, want %v", err, want)
	}
	task := Go(context.Background(), func(context.Context) {})
	<-task.Done()
	task.Join()
}

func TestSendAndCausalEvents(t *testing.T) {
	p, spans := recorded(t, Config{})
	tr := p.Tracer("")
	ctx, client := tr.Start(context.Background(), "client", WithKind(KindClient))
	if got := CurrentEvent(ctx); got != (EventID{Unit: client.Unit(), Seq: 1}) {
		t.Errorf("CurrentEvent = %v", got)
	}
	send := RecordSend(ctx)
	if send != (EventID{Unit: client.Unit(), Seq: 2}) {
		t.Errorf("RecordSend = %v", send)
	}
	recv := client.AddCausalEvent(ctx, EventReceive, EventRef{EventID: EventID{Unit: 0xbeef, Seq: 3}})
	client.End()
	// The receiving side, in "another process".
	sc := SpanContextFromContext(ctx)
	sc.Cause = send
	_, server := tr.Start(ContextWithRemoteSpanContext(context.Background(), sc), "server", WithKind(KindServer))
	server.End()
	// A consumer naming a message's send event explicitly.
	_, consumer := tr.Start(context.Background(), "consumer", WithCause(EventRef{TraceID: TraceID{9}, EventID: send}))
	consumer.End()

	got := spans()
	if got["server"].StartCause.EventID != send {
		t.Errorf("server cause %v, want %v", got["server"].StartCause, send)
	}
	if got["consumer"].StartCause != (EventRef{TraceID: TraceID{9}, EventID: send}) {
		t.Errorf("consumer cause %v", got["consumer"].StartCause)
	}
	ev := eventNamed(got["client"], EventReceive)
	if len(ev) != 1 || ev[0].Seq != recv.Seq || ev[0].Cause.Unit != 0xbeef {
		t.Errorf("receive events %+v", ev)
	}
	if RecordSend(context.Background()).IsValid() || CurrentEvent(context.Background()).IsValid() {
		t.Error("events from a context without a span")
	}
}

func TestEndIn(t *testing.T) {
	p, spans := recorded(t, Config{})
	tr := p.Tracer("")
	ctx, root := tr.Start(context.Background(), "root")
	_, call := tr.Start(ctx, "async call")
	Go(ctx, func(ctx context.Context) {
		call.EndIn(ctx) // the callback runs on another unit
	}).Join()
	root.EndIn(ctx) // the same unit: no EndUnit
	got := spans()
	c, r := got["async call"], got["root"]
	if c.EndUnit == 0 || c.EndUnit == c.Unit || c.EndSeq != 1 {
		t.Errorf("async call ended on unit %x seq %d (started on %x)", c.EndUnit, c.EndSeq, c.Unit)
	}
	if r.EndUnit != 0 || r.EndSeq != 5 {
		t.Errorf("root: end unit %x seq %d", r.EndUnit, r.EndSeq)
	}
}

func TestContextWithSpanContext(t *testing.T) {
	p, spans := recorded(t, Config{})
	tr := p.Tracer("")
	local := SpanContext{TraceID: TraceID{3}, SpanID: SpanID{4}}
	ctx := ContextWithSpanContext(context.Background(), local)
	if got := SpanContextFromContext(ctx); got != local {
		t.Errorf("SpanContextFromContext = %+v", got)
	}
	if _, s := tr.Start(ctx, "child of unsampled"); s != nil {
		t.Error("a child of a local unsampled span context is recording")
	}
	local.Flags = FlagSampled
	_, s := tr.Start(ContextWithSpanContext(context.Background(), local), "child of sampled")
	s.End()
	if d := spans()["child of sampled"]; d == nil || d.ParentID != local.SpanID || d.TraceID != local.TraceID {
		t.Errorf("child of a sampled span context: %+v", d)
	}
	if ContextWithSpanContext(context.Background(), SpanContext{}) != context.Background() {
		t.Error("an invalid span context was stored")
	}
	if SpanFromContext(ctx) != nil || SpanFromContext(context.Background()) != nil {
		t.Error("a span from a context without one")
	}
	_, r := tr.Start(context.Background(), "r")
	if SpanFromContext(ContextWithSpan(context.Background(), r)) != r || ContextWithSpan(ctx, nil) != ctx {
		t.Error("ContextWithSpan")
	}
	r.End()
}
