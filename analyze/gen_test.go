package analyze

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/weftrace/weft/model"
)

const us = int64(1000) // one microsecond in nanoseconds

// builder makes hand-built traces: one resource per service, span IDs from a counter.
type builder struct {
	trace model.TraceID
	res   map[string]*model.Resource
	next  uint64
	spans []*model.Span
}

func newBuilder(trace byte) *builder {
	b := &builder{res: map[string]*model.Resource{}}
	b.trace[15] = trace
	b.trace[0] = 0xab
	return b
}

func (b *builder) resource(service string) *model.Resource {
	r := b.res[service]
	if r == nil {
		r = &model.Resource{Service: service, Attrs: []model.Attr{{Key: "host.name", Value: model.String(service + "-host")}}}
		b.res[service] = r
	}
	return r
}

// span adds a span of service:name under parent (nil for a root) from start to end (microseconds).
func (b *builder) span(parent *model.Span, service, name string, kind model.Kind, start, end int64) *model.Span {
	b.next++
	s := &model.Span{TraceID: b.trace, Name: name, Kind: kind, Start: start * us, Duration: (end - start) * us, Resource: b.resource(service)}
	binary.BigEndian.PutUint64(s.SpanID[:], b.next)
	if parent != nil {
		s.ParentID = parent.SpanID
	}
	b.spans = append(b.spans, s)
	return s
}

// weft gives a span its place on an execution unit.
func weft(s *model.Span, unit uint64, startSeq, endSeq uint32, cause model.EventRef) *model.Span {
	s.Causality = model.Causality{Unit: unit, StartSeq: startSeq, EndSeq: endSeq, StartCause: cause}
	return s
}

// addEvent adds a causal event to s on its own unit at t microseconds.
func addEvent(s *model.Span, name string, seq uint32, t int64, cause model.EventRef) {
	s.Events = append(s.Events, model.Event{Time: t * us, Name: name, Seq: seq, Cause: cause})
}

func ref(unit uint64, seq uint32) model.EventRef { return model.EventRef{Unit: unit, Seq: seq} }

// gen simulates weft-instrumented programs: spans on execution units calling each other in sequence, over RPC
// to other processes, and through forked and joined goroutines, with every event's true time; then each process's
// clock is skewed. The result is consistent by construction.
type gen struct {
	rng    *rand.Rand
	trace  model.TraceID
	procs  []*model.Resource
	skew   []int64
	spans  []*model.Span
	proc   map[*model.Span]int
	units  uint64
	nextID uint64
	budget int // spans left to make
}

type unitState struct {
	id  uint64
	seq uint32
}

func (u *unitState) next() uint32 { u.seq++; return u.seq }

func newGen(seed uint64, procs, spans int, skew int64) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), budget: spans, proc: map[*model.Span]int{}}
	binary.BigEndian.PutUint64(g.trace[8:], seed+1)
	g.trace[0] = 0xcd
	for p := 0; p < procs; p++ {
		g.procs = append(g.procs, &model.Resource{Service: []string{"front", "pairing", "taster", "db", "cache"}[p%5], Attrs: []model.Attr{{Key: "host.name", Value: model.Int(int64(p))}}})
		if p == 0 {
			g.skew = append(g.skew, 0)
		} else {
			g.skew = append(g.skew, g.rng.Int64N(2*skew+1)-skew)
		}
	}
	return g
}

func (g *gen) newUnit() *unitState { g.units++; return &unitState{id: g.units * 0x1000} }

func (g *gen) newSpan(parent *model.Span, proc int, name string, kind model.Kind, u *unitState, t int64, cause model.EventRef) *model.Span {
	g.nextID++
	g.budget--
	s := &model.Span{TraceID: g.trace, Name: name, Kind: kind, Start: t, Resource: g.procs[proc]}
	binary.BigEndian.PutUint64(s.SpanID[:], g.nextID)
	if parent != nil {
		s.ParentID = parent.SpanID
	}
	s.Causality = model.Causality{Unit: u.id, StartSeq: u.next(), StartCause: cause}
	g.spans = append(g.spans, s)
	g.proc[s] = proc
	return s
}

func (g *gen) work() int64 { return g.rng.Int64N(50*us) + 1 }

// run makes a span on unit u starting at true time t and returns its true end.
func (g *gen) run(parent *model.Span, proc int, u *unitState, t int64, cause model.EventRef, kind model.Kind, depth int) int64 {
	s := g.newSpan(parent, proc, "op"+string(rune('a'+g.rng.IntN(4))), kind, u, t, cause)
	t += g.work()
	n := 0
	switch {
	case depth == 0:
		n = 1 << 30 // the root calls on until the trace has its size
	case depth < 12:
		n = g.rng.IntN(4)
	}
	for k := 0; k < n && g.budget > 0; k++ {
		switch g.rng.IntN(3) {
		case 0: // a child on the same unit
			t = g.run(s, proc, u, t, model.EventRef{}, model.KindInternal, depth+1)
		case 1: // a call to another process
			other := g.rng.IntN(len(g.procs))
			c := g.newSpan(s, proc, "call", model.KindClient, u, t, model.EventRef{})
			t += g.work() / 10
			send := u.next()
			c.Events = append(c.Events, model.Event{Time: t, Name: "weft.send", Seq: send})
			end := g.run(c, other, g.newUnit(), t+g.work(), ref(u.id, send), model.KindServer, depth+1)
			t = end + g.work()
			c.Causality.EndSeq = u.next()
			c.Duration = t - c.Start
		default: // fork a goroutine, work meanwhile, then join it
			fork := u.next()
			s.Events = append(s.Events, model.Event{Time: t, Name: "weft.fork", Seq: fork})
			v := g.newUnit()
			childEnd := g.run(s, proc, v, t+g.work()/10, ref(u.id, fork), model.KindInternal, depth+1)
			t += g.work()
			if g.rng.IntN(2) == 0 && g.budget > 0 {
				t = g.run(s, proc, u, t, model.EventRef{}, model.KindInternal, depth+1)
			}
			t = max(t, childEnd+g.work()/10)
			s.Events = append(s.Events, model.Event{Time: t, Name: "weft.join", Seq: u.next(), Cause: ref(v.id, v.seq)})
		}
		t += g.work()
	}
	t += g.work()
	s.Causality.EndSeq = u.next()
	s.Duration = t - s.Start
	return t
}

// trace makes the whole trace with clocks skewed; foreign strips the causality.
func (g *gen) make(foreign bool) []*model.Span {
	g.run(nil, 0, g.newUnit(), 1_700_000_000_000_000_000, model.EventRef{}, model.KindServer, 0)
	for _, s := range g.spans {
		k := g.skew[g.proc[s]]
		s.Start += k
		for i := range s.Events {
			s.Events[i].Time += k
		}
		if foreign {
			s.Causality = model.Causality{}
			s.Events = nil
		}
	}
	g.rng.Shuffle(len(g.spans), func(i, j int) { g.spans[i], g.spans[j] = g.spans[j], g.spans[i] })
	return g.spans
}

// genTrace is a simulated trace of about n spans over procs processes with clocks skewed up to skew.
func genTrace(seed uint64, procs, n int, skew int64, foreign bool) []*model.Span {
	for {
		g := newGen(seed, procs, n, skew)
		spans := g.make(foreign)
		if len(spans) >= n/2 || n < 4 {
			return spans
		}
		seed += 1000 // a trace that stopped growing early: try another seed
	}
}
