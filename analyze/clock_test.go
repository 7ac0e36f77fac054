package analyze

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weftrace/weft/model"
)

func TestClockKnownOffsets(t *testing.T) {
	tests := []struct {
		name         string
		build        func(b *builder)
		choose       Choice
		offset       int64 // of the second process, µs*1000
		lower, upper int64
		inconsistent string // a word of the first inconsistency's message, "" for none
	}{{
		name: "consistent clocks need no adjustment",
		build: func(b *builder) {
			c := b.span(nil, "front", "call", model.KindClient, 0, 100)
			b.span(c, "back", "serve", model.KindServer, 10, 80)
		},
		choose: ChooseZero, offset: 0, lower: -10 * us, upper: 20 * us,
	}, {
		name: "midpoint centres the server in its client",
		build: func(b *builder) {
			c := b.span(nil, "front", "call", model.KindClient, 0, 100)
			b.span(c, "back", "serve", model.KindServer, 10, 80)
		},
		choose: ChooseMidpoint, offset: 5 * us, lower: -10 * us, upper: 20 * us,
	}, {
		name: "a server clock 1ms ahead",
		build: func(b *builder) {
			c := b.span(nil, "front", "call", model.KindClient, 0, 100)
			b.span(c, "back", "serve", model.KindServer, 1010, 1080)
		},
		choose: ChooseZero, offset: -980 * us, lower: -1010 * us, upper: -980 * us,
	}, {
		name: "two calls narrow the interval",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 0, 300)
			c1 := b.span(r, "front", "call", model.KindClient, 0, 100)
			b.span(c1, "back", "serve", model.KindServer, 10, 80) // o in [-10, 20]
			c2 := b.span(r, "front", "call", model.KindClient, 200, 300)
			b.span(c2, "back", "serve", model.KindServer, 195, 290) // o in [5, 10]
		},
		choose: ChooseZero, offset: 5 * us, lower: 5 * us, upper: 10 * us,
	}, {
		name: "weft send and receive across processes",
		build: func(b *builder) {
			r := weft(b.span(nil, "front", "root", model.KindServer, 0, 100), 1, 1, 3, model.EventRef{})
			addEvent(r, "weft.send", 2, 50, model.EventRef{})
			// A consumer in another process received the message at its clock's 40: at least 10µs behind.
			weft(b.span(nil, "back", "consume", model.KindConsumer, 40, 60), 2, 1, 2, ref(1, 2)).ParentID = r.SpanID
		},
		choose: ChooseZero, offset: 10 * us, lower: 10 * us, upper: 0, // upper unbounded
	}, {
		name: "a server longer than its client is reported",
		build: func(b *builder) {
			c := b.span(nil, "front", "call", model.KindClient, 0, 10)
			b.span(c, "back", "serve", model.KindServer, 0, 20)
		},
		choose: ChooseZero, offset: 0, lower: 0, upper: 0, inconsistent: "ends 10µs after its client span",
	}, {
		name: "a child before its parent in one process is reported",
		build: func(b *builder) {
			r := b.span(nil, "front", "root", model.KindServer, 10, 20)
			b.span(r, "front", "early", model.KindInternal, 5, 15)
		},
		choose: ChooseZero, inconsistent: "starts 5µs before its parent",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(7)
			tt.build(b)
			c := EstimateClock(b.spans, tt.choose)
			if !c.Processes[0].Root || c.Processes[0].Offset != 0 || c.Processes[0].Service != "front" {
				t.Fatalf("root process %+v", c.Processes[0])
			}
			if tt.inconsistent != "" {
				if c.InconsistencyCount == 0 || !strings.Contains(c.Inconsistencies[0].Message, tt.inconsistent) {
					t.Fatalf("inconsistencies %+v, want one saying %q", c.Inconsistencies, tt.inconsistent)
				}
				return
			}
			if c.InconsistencyCount != 0 {
				t.Fatalf("unexpected inconsistency: %s", c.Inconsistencies[0].Message)
			}
			p := c.Processes[1]
			if p.Offset != tt.offset || p.Lower != tt.lower || p.Upper != tt.upper || !p.Constrained {
				t.Errorf("process %+v, want offset %d in [%d, %d]", p, tt.offset, tt.lower, tt.upper)
			}
			checkClock(t, c, b.spans)
		})
	}
}

// checkClock verifies, independently of the solver, that adjusted times satisfy every causal constraint that
// is not reported.
func checkClock(t *testing.T, c *Clock, spans []*model.Span) {
	t.Helper()
	ids := map[model.SpanID]int{}
	for i, s := range spans {
		ids[s.SpanID] = i
	}
	adj := func(i int, raw int64) int64 { return raw + c.Offset(i) }
	broken := 0
	for i, s := range spans {
		p, ok := ids[s.ParentID]
		if !ok {
			continue
		}
		ps := spans[p]
		if adj(i, s.Start) < adj(p, ps.Start) {
			broken++
		}
		if ps.Kind == model.KindClient && s.Kind == model.KindServer && adj(i, s.End()) > adj(p, ps.End()) {
			broken++
		}
	}
	// Cause edges: find each referenced event's time by its unit and seq.
	type key struct {
		unit uint64
		seq  uint32
	}
	at := map[key]struct {
		span int
		time int64
	}{}
	for i, s := range spans {
		if s.Causality.IsZero() {
			continue
		}
		at[key{s.Causality.Unit, s.Causality.StartSeq}] = struct {
			span int
			time int64
		}{i, s.Start}
		end := s.Causality.EndUnit
		if end == 0 {
			end = s.Causality.Unit
		}
		at[key{end, s.Causality.EndSeq}] = struct {
			span int
			time int64
		}{i, s.End()}
		for _, e := range s.Events {
			u := e.Unit
			if u == 0 {
				u = s.Causality.Unit
			}
			at[key{u, e.Seq}] = struct {
				span int
				time int64
			}{i, e.Time}
		}
	}
	check := func(i int, t0 int64, r model.EventRef) {
		if r.IsZero() {
			return
		}
		if ce, ok := at[key{r.Unit, r.Seq}]; ok && adj(ce.span, ce.time) > adj(i, t0) {
			broken++
		}
	}
	for i, s := range spans {
		check(i, s.Start, s.Causality.StartCause)
		for _, e := range s.Events {
			check(i, e.Time, e.Cause)
		}
	}
	if broken != c.InconsistencyCount {
		t.Errorf("%d constraints broken after adjustment, %d reported", broken, c.InconsistencyCount)
	}
	for i, s := range spans {
		if s.Duration < 0 || adj(i, s.End())-adj(i, s.Start) != s.Duration {
			t.Errorf("span %d duration changed by adjustment", i)
		}
	}
}

func TestClockProperties(t *testing.T) {
	for seed := uint64(1); seed <= 80; seed++ {
		spans := genTrace(seed, 2+int(seed%6), 30+int(seed*3), 10_000*us, seed%4 == 0)
		for _, choose := range []Choice{ChooseZero, ChooseMidpoint} {
			t.Run(fmt.Sprintf("seed%d/%s", seed, choose), func(t *testing.T) {
				c := EstimateClock(spans, choose)
				if c.InconsistencyCount != 0 {
					t.Errorf("consistent trace: %s", c.Inconsistencies[0].Message)
				}
				for _, p := range c.Processes {
					if p.LowerBounded && p.Offset < p.Lower || p.UpperBounded && p.Offset > p.Upper {
						t.Errorf("process %d offset %d outside [%d, %d]", p.ID, p.Offset, p.Lower, p.Upper)
					}
				}
				checkClock(t, c, spans)
			})
		}
	}
	// Random skews that break constraints (servers made longer than their clients) are reported, never hidden.
	for seed := uint64(1); seed <= 30; seed++ {
		spans := genTrace(seed, 3, 40, 1000*us, true)
		for i, s := range spans {
			if s.Kind == model.KindServer && i%2 == 0 {
				s.Duration += 100 * us
			}
		}
		c := EstimateClock(spans, ChooseMidpoint)
		checkClock(t, c, spans)
	}
}

func TestIDTable(t *testing.T) {
	var tab idTable
	tab.reset(3)
	keys := []uint64{1, 2, 0x1000, 0x2000, 1 << 63, 0xffffffffffffffff}
	for i := uint64(1); i < 5000; i++ {
		keys = append(keys, i*0x10000)
	}
	for i, k := range keys {
		tab.put(k, int32(i))
	}
	tab.put(0, 7) // never stored
	for i, k := range keys {
		if v, ok := tab.get(k); !ok || v != int32(i) {
			t.Fatalf("key %x: %d %v, want %d", k, v, ok, i)
		}
	}
	if _, ok := tab.get(0); ok {
		t.Error("key 0 found")
	}
	if _, ok := tab.get(3); ok {
		t.Error("absent key found")
	}
	tab.put(2, 99)
	if v, _ := tab.get(2); v != 99 {
		t.Errorf("overwrite: %d", v)
	}
	if v, ok := tab.getOrPut(2, 5); !ok || v != 99 {
		t.Errorf("getOrPut of a present key: %d %v", v, ok)
	}
	if v, ok := tab.getOrPut(3, 5); ok || v != 5 {
		t.Errorf("getOrPut of an absent key: %d %v", v, ok)
	}
	if v, ok := tab.get(3); !ok || v != 5 {
		t.Errorf("getOrPut did not store: %d %v", v, ok)
	}
	if _, ok := tab.getOrPut(0, 1); ok || tab.n != len(keys)+1 {
		t.Errorf("getOrPut of key 0 or the count: %d keys", tab.n)
	}
	tab.reset(1)
	if _, ok := tab.get(2); ok || tab.n != 0 {
		t.Error("reset kept a key")
	}
}
