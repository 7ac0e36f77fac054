package trace

import (
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname
)

// time.Now reads both the wall clock and the monotonic clock and costs 60-180 ns on the machines weft is
// measured on; the monotonic clock alone costs a fraction of that. Span times are therefore the monotonic clock
// plus an offset to the wall clock, re-read once a second and changed only when the wall clock was stepped
// (by more than a millisecond), so that reading jitter never moves span times: durations are exact, and a step
// of the wall clock shows within a second.

//go:linkname nanotime runtime.nanotime
func nanotime() int64

var (
	clockOffset atomic.Int64 // wall - monotonic, in nanoseconds
	clockSynced atomic.Int64 // monotonic time of the last re-read
)

func init() {
	clockOffset.Store(readOffset())
	clockSynced.Store(nanotime())
}

func readOffset() int64 { return time.Now().UnixNano() - nanotime() }

func syncClock() {
	clockSynced.Store(nanotime())
	if off := readOffset(); abs(off-clockOffset.Load()) > int64(time.Millisecond) {
		clockOffset.Store(off)
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// now is the current time in Unix nanoseconds.
func now() int64 {
	m := nanotime()
	if m-clockSynced.Load() > int64(time.Second) {
		syncClock()
	}
	return m + clockOffset.Load()
}
