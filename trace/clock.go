package trace

import (
	"math/bits"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname
)

// Span times are read on every start and end, so the clock is on the hot path. time.Now reads both the wall
// clock and the monotonic clock and costs 60-180 ns on the machines weft is measured on; the monotonic clock
// alone costs a third of that, and the CPU's time-stamp counter a third again. So span times are:
//
//   - the time-stamp counter, scaled to nanoseconds by a rate measured against the monotonic clock, where the
//     kernel itself trusts that counter (its clocksource is "tsc") and once a first rate has been measured;
//   - otherwise the monotonic clock;
//
// plus an offset to the wall clock. Every second the rate and the base are measured again, and the wall-clock
// offset is re-read and changed only when the wall clock was stepped (by more than a millisecond), so that
// reading jitter never moves span times. Durations are exact to the clock's resolution, and a step of the wall
// clock shows within a second.

//go:linkname nanotime runtime.nanotime
func nanotime() int64

var (
	clockOffset atomic.Int64 // wall - monotonic, in nanoseconds
	clockSynced atomic.Int64 // monotonic time of the last re-read
	clockBusy   atomic.Bool  // a goroutine is re-reading
	tscState    atomic.Pointer[tscClock]
	tscLast     atomic.Pointer[tscSample] // the previous calibration sample
	tscTrusted  = haveTSC && kernelTrustsTSC()
)

// tscClock turns a time-stamp counter reading into Unix nanoseconds; it is replaced, never modified.
type tscClock struct {
	tsc0      int64   // counter at the calibration point
	unix0     int64   // Unix nanoseconds at tsc0
	nsPerTick float64 // measured rate
	mult      uint64  // nsPerTick as a 32.32 fixed-point number: one multiply instead of two conversions
	limit     int64   // ticks after tsc0 beyond which this calibration is stale (two seconds)
	half      int64   // limit/2, past which a new calibration is due
}

// scale turns ticks since tsc0 (0 <= d < limit) into nanoseconds.
func (c *tscClock) scale(d int64) int64 {
	hi, lo := bits.Mul64(uint64(d), c.mult)
	return int64(hi<<32 | lo>>32)
}

type tscSample struct{ tsc, mono int64 }

func init() {
	clockOffset.Store(readOffset())
	m := nanotime()
	clockSynced.Store(m)
	if tscTrusted {
		tscLast.Store(&tscSample{tsc: rdtsc(), mono: m})
	}
}

func kernelTrustsTSC() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	b, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	return err == nil && strings.TrimSpace(string(b)) == "tsc"
}

func readOffset() int64 { return time.Now().UnixNano() - nanotime() }

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// now is the current time in Unix nanoseconds.
func now() int64 {
	if c := tscState.Load(); c != nil {
		if d := rdtsc() - c.tsc0; d >= 0 && d < c.limit {
			if d > c.half {
				syncClock()
			}
			return c.unix0 + c.scale(d)
		}
	}
	m := nanotime()
	every := int64(time.Second)
	if tscTrusted {
		every = int64(100 * time.Millisecond) // calibrate soon after start
	}
	if m-clockSynced.Load() > every {
		syncClock()
	}
	return m + clockOffset.Load()
}

// syncClock re-reads the wall-clock offset and measures the counter's rate again; one goroutine at a time.
func syncClock() {
	if !clockBusy.CompareAndSwap(false, true) {
		return
	}
	defer clockBusy.Store(false)
	m := nanotime()
	clockSynced.Store(m)
	if off := readOffset(); abs(off-clockOffset.Load()) > int64(time.Millisecond) {
		clockOffset.Store(off)
	}
	if !tscTrusted {
		return
	}
	t, m := rdtsc(), nanotime()
	prev := tscLast.Load()
	tscLast.Store(&tscSample{tsc: t, mono: m})
	if prev == nil || m-prev.mono < int64(100*time.Millisecond) || t <= prev.tsc {
		return
	}
	rate := float64(m-prev.mono) / float64(t-prev.tsc)
	if rate <= 0 || rate >= 1<<16 { // not a counter of this machine: keep the monotonic clock
		return
	}
	limit := int64(float64(2*time.Second) / rate)
	tscState.Store(&tscClock{tsc0: t, unix0: m + clockOffset.Load(), nsPerTick: rate,
		mult: uint64(rate * (1 << 32)), limit: limit, half: limit / 2})
}
