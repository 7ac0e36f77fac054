// Package concurrency records how goroutines of a traced program wait on each other, so that the event DAG shows
// which work waited on which: a Mutex whose acquisition names the release it waited for, and channel hand-off
// helpers whose receive names the send. For fork and join, use trace.Go and trace.Group (the library's core):
// they start goroutines as execution units and record the fork and join events.
//
// All of it records events on the current span of the context given, on that context's execution unit; with no
// recording span it costs about as much as the plain sync.Mutex or channel operation.
package concurrency

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/weftrace/weft/trace"
)

// EventLockRelease is the event Unlock records when a goroutine is waiting for the lock: the event the waiter's
// weft.lock.acquire names as its cause.
const EventLockRelease = "weft.lock.release"

// Mutex is a sync.Mutex that records, on the span of the context given to Lock, a weft.lock.wait event when the
// lock is held by another goroutine and a weft.lock.acquire event naming the previous holder's release (which may
// be in another trace) once it is obtained. An uncontended Lock records nothing. The zero value is an unlocked
// mutex.
type Mutex struct {
	mu      sync.Mutex
	waiters atomic.Int32
	// last is the release event of the holder that last unlocked while someone waited; guarded by mu.
	last trace.EventRef
}

// Lock locks m, recording the wait and the acquisition on ctx's span when it has to wait.
func (m *Mutex) Lock(ctx context.Context) {
	if m.mu.TryLock() {
		return
	}
	span := trace.SpanFromContext(ctx)
	span.AddCausalEvent(ctx, trace.EventLockWait, trace.EventRef{})
	m.waiters.Add(1)
	m.mu.Lock()
	m.waiters.Add(-1)
	span.AddCausalEvent(ctx, trace.EventLockAcq, m.last)
	m.last = trace.EventRef{}
}

// Unlock unlocks m; when a goroutine waits for it, it records the release on ctx's span for the waiter to name.
func (m *Mutex) Unlock(ctx context.Context) {
	if m.waiters.Load() > 0 {
		if span := trace.SpanFromContext(ctx); span != nil {
			id := span.AddCausalEvent(ctx, EventLockRelease, trace.EventRef{})
			m.last = trace.EventRef{TraceID: span.SpanContext().TraceID, EventID: id}
		}
	}
	m.mu.Unlock()
}

// Message is a value handed over a channel with the event that sent it.
type Message[T any] struct {
	Value T
	// Sent is the weft.send event recorded by Send; zero when the sender had no recording span.
	Sent trace.EventRef
}

// Send records a weft.send event on ctx's span and sends v on ch, or returns ctx's error if ctx ends first.
func Send[T any](ctx context.Context, ch chan<- Message[T], v T) error {
	m := Message[T]{Value: v}
	if span := trace.SpanFromContext(ctx); span != nil {
		m.Sent = trace.EventRef{TraceID: span.SpanContext().TraceID, EventID: trace.RecordSend(ctx)}
	}
	select {
	case ch <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Receive receives a message from ch and records a weft.receive event naming its send on ctx's span; ok is false
// when ch is closed, and err is ctx's error if ctx ends first.
func Receive[T any](ctx context.Context, ch <-chan Message[T]) (v T, ok bool, err error) {
	select {
	case m, ok := <-ch:
		if !ok {
			return v, false, nil
		}
		return m.Received(ctx), true, nil
	case <-ctx.Done():
		return v, false, ctx.Err()
	}
}

// Received records the receipt of m on ctx's span (for a message taken from a channel in a select) and returns
// its value.
func (m Message[T]) Received(ctx context.Context) T {
	trace.SpanFromContext(ctx).AddCausalEvent(ctx, trace.EventReceive, m.Sent)
	return m.Value
}
