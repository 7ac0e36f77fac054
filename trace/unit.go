package trace

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	_ "unsafe" // for go:linkname
)

// unit is an execution unit: one goroutine doing sequential work for a trace. Its events (span starts, span
// ends, span events) are numbered from 1 in the order they happen.
type unit struct {
	id    uint64
	seq   atomic.Uint32
	cause EventRef // what the unit's first event waited for (its fork); zero if none. Set before the unit is used.
}

// newUnit takes a fresh unit with a new ID from the P's slab.
func newUnit() *unit {
	u := units.Take()
	u.id = newUnitID()
	return u
}

// cheaprand64 is the runtime's per-thread wyrand generator: a few nanoseconds, against tens for math/rand/v2's
// ChaCha8. Span and unit IDs need to be unique and unpredictable enough to not collide, not secret; trace IDs,
// made once per trace, come from math/rand/v2.
//
//go:linkname cheaprand64 runtime.cheaprand64
func cheaprand64() int64

func newUnitID() uint64 {
	for {
		if id := uint64(cheaprand64()); id != 0 {
			return id
		}
	}
}

func newSpanID() (id SpanID) {
	for {
		if v := uint64(cheaprand64()); v != 0 {
			binary.BigEndian.PutUint64(id[:], v)
			return id
		}
	}
}

func newTraceID() (id TraceID) {
	for {
		hi, lo := rand.Uint64(), rand.Uint64()
		if hi|lo != 0 {
			binary.BigEndian.PutUint64(id[:8], hi)
			binary.BigEndian.PutUint64(id[8:], lo)
			return id
		}
	}
}

// fork makes the context a new goroutine runs with: a new execution unit whose first event waits for a
// weft.fork event recorded on the current span of ctx.
func fork(ctx context.Context, u *unit) context.Context {
	u.id = newUnitID()
	n := nodeFrom(ctx)
	if n == nil {
		return newNode(ctx, u, SpanContext{})
	}
	if n.span != nil && n.onUnit() != nil {
		u.cause = EventRef{EventID: n.span.addEventLive(n.liveKey(), n.onUnit(), 0, EventFork, EventRef{}, nil)}
	}
	// The new unit's context keeps the forking node's span (and its generation and trace): its spans are
	// children of that span, ended or not.
	return n.forked(ctx, u)
}

// join records, on the current span of the waiting context, a weft.join event that names the last event of the
// joined unit.
func join(waiter context.Context, joined *unit) {
	n := nodeFrom(waiter)
	if n == nil || n.span == nil || n.onUnit() == nil {
		return
	}
	var cause EventRef
	if last := joined.seq.Load(); last > 0 {
		cause = EventRef{EventID: EventID{Unit: joined.id, Seq: last}}
	}
	n.span.addEventLive(n.liveKey(), n.onUnit(), 0, EventJoin, cause, nil)
}

// Task is a goroutine started by Go: a new execution unit that can be joined.
type Task struct {
	ctx  context.Context // the forking context: the one that waits in Join
	unit unit
	done chan struct{}
	once sync.Once
}

// Go runs fn in a new goroutine as a new execution unit: it records a weft.fork event on the current span of
// ctx, and the first span fn starts from the context it is given names that fork as its cause. Join waits for
// fn and records the matching weft.join.
func Go(ctx context.Context, fn func(ctx context.Context)) *Task {
	t := &Task{ctx: ctx, done: make(chan struct{})}
	child := fork(ctx, &t.unit)
	go func() {
		defer close(t.done)
		fn(child)
	}()
	return t
}

// Join waits for the task's goroutine to return and records, once, a weft.join event on the current span of the
// context given to Go, naming the last event of the task's unit.
func (t *Task) Join() {
	<-t.done
	t.once.Do(func() { join(t.ctx, &t.unit) })
}

// Done is closed when the task's goroutine has returned.
func (t *Task) Done() <-chan struct{} { return t.done }

// Group runs goroutines as execution units and waits for them all, like errgroup.Group, recording a fork for
// each and, in Wait, a join for each as it finishes.
type Group struct {
	ctx      context.Context
	mu       sync.Mutex
	running  int           // goroutines started and not yet returned
	finished []*unit       // goroutines returned and not yet joined, in the order they returned
	wake     chan struct{} // a goroutine returned (buffered: one token is enough, Wait rereads under mu)
	err      error
}

// NewGroup makes a Group whose goroutines fork from, and whose Wait joins into, the current span of ctx.
func NewGroup(ctx context.Context) *Group { return &Group{ctx: ctx, wake: make(chan struct{}, 1)} }

// Go runs fn in a new goroutine as a new execution unit, with a context forked from the group's.
func (g *Group) Go(fn func(ctx context.Context) error) {
	u := new(unit)
	child := fork(g.ctx, u)
	g.mu.Lock()
	g.running++
	g.mu.Unlock()
	go func() {
		err := fn(child)
		g.mu.Lock()
		if err != nil && g.err == nil {
			g.err = err
		}
		g.running--
		g.finished = append(g.finished, u)
		g.mu.Unlock()
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}()
}

// Wait waits for every goroutine started so far and returns the first error any of them returned. It records a
// weft.join event for each on the group's span, naming that unit's last event, as each goroutine returns (in
// the order they return): the join of the goroutine that finished last is then the last join, and each join's
// time is when that goroutine was waited for, which is what the critical path follows.
func (g *Group) Wait() error {
	for {
		g.mu.Lock()
		done := g.finished
		g.finished = nil
		running := g.running
		g.mu.Unlock()
		for _, u := range done {
			join(g.ctx, u)
		}
		if running == 0 {
			break
		}
		<-g.wake
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
