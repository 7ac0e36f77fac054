package trace

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	a := now()
	wall := time.Now().UnixNano()
	b := now()
	if b < a {
		t.Errorf("now went back: %d then %d", a, b)
	}
	if d := wall - a; abs(d) > int64(time.Second) {
		t.Errorf("now is %v away from the wall clock", time.Duration(d))
	}
	trueOffset := clockOffset.Load()
	defer clockOffset.Store(trueOffset)
	// A re-read within a millisecond of the current offset keeps it, so reading jitter never moves times.
	clockOffset.Store(trueOffset + int64(100*time.Microsecond))
	syncClock()
	if got := clockOffset.Load(); got != trueOffset+int64(100*time.Microsecond) {
		t.Errorf("offset moved by %v without a wall-clock step", time.Duration(got-trueOffset))
	}
	// A step of the wall clock (here: an offset an hour off) is taken at the next re-read.
	clockOffset.Store(trueOffset + int64(time.Hour))
	syncClock()
	if got := clockOffset.Load(); abs(got-trueOffset) > int64(time.Millisecond) {
		t.Errorf("offset is %v off after a re-read", time.Duration(got-trueOffset))
	}
}

// TestTSCClock calibrates the time-stamp counter, where the kernel trusts it, and checks that times read from it
// agree with the monotonic clock.
func TestTSCClock(t *testing.T) {
	if !tscTrusted {
		t.Skip("the kernel does not use the time-stamp counter here")
	}
	syncClock()
	time.Sleep(150 * time.Millisecond)
	syncClock()
	c := tscState.Load()
	if c == nil || c.nsPerTick <= 0 {
		t.Fatalf("no calibration after two samples: %+v", c)
	}
	for i := 0; i < 5; i++ {
		got, want := now(), nanotime()+clockOffset.Load()
		// Generous: only a wrong rate or base would be off by milliseconds.
		if abs(got-want) > int64(20*time.Millisecond) {
			t.Errorf("time-stamp counter time is %v off the monotonic clock", time.Duration(got-want))
		}
	}
}

// TestTSCScale checks the fixed-point conversion of ticks to nanoseconds against floating point, over a whole
// calibration's range, for counters from 100 MHz to 10 GHz.
func TestTSCScale(t *testing.T) {
	for _, rate := range []float64{10, 1, 0.37, 0.1} { // nanoseconds per tick
		limit := int64(float64(2*time.Second) / rate)
		c := &tscClock{nsPerTick: rate, mult: uint64(rate * (1 << 32)), limit: limit, half: limit / 2}
		for _, d := range []int64{0, 1, 3, 1000, 123456789, limit / 2, limit - 1} {
			want := int64(float64(d) * rate)
			if got := c.scale(d); got < want-2 || got > want+2 {
				t.Errorf("rate %v, %d ticks: %d ns, want %d", rate, d, got, want)
			}
		}
	}
}
