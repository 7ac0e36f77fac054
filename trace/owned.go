package trace

import "sync/atomic"

// Some per-P state has one writer: the goroutine that runs on that P, pinned to it (procPin) while it writes.
// Pinned, it cannot be preempted, and the next goroutine to run on the P is ordered after it by the scheduler,
// so its writes need no locked instruction; a locked add or compare-and-swap costs 6-8 ns on the machines weft
// is measured on, and a span's start and end made four of them on such state. Readers on other Ps (Counters,
// the batcher) read it atomically: an aligned word is never torn. The race detector knows nothing of pinning,
// so race builds write such state atomically (owned_race.go, owned_count_atomic.go), as do 32-bit platforms for
// the counters, whose readers could otherwise see half an add.

// ownedCount is a counter that only the pinned goroutine of its P writes, and anyone reads.
type ownedCount struct{ v uint64 }

// Load reads the counter from any goroutine.
func (c *ownedCount) Load() uint64 { return atomic.LoadUint64(&c.v) }
