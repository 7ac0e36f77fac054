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
	if d := wall - a; d < -int64(time.Second) || d > int64(time.Second) {
		t.Errorf("now is %v away from the wall clock", time.Duration(d))
	}
	trueOffset := clockOffset.Load()
	defer clockOffset.Store(trueOffset)
	// A re-read within a millisecond of the current offset keeps it, so reading jitter never moves times.
	clockOffset.Store(trueOffset + int64(100*time.Microsecond))
	clockSynced.Store(0)
	now()
	if got := clockOffset.Load(); got != trueOffset+int64(100*time.Microsecond) {
		t.Errorf("offset moved by %v without a wall-clock step", time.Duration(got-trueOffset))
	}
	// A step of the wall clock (here: an offset an hour off) is taken within a second.
	clockOffset.Store(trueOffset + int64(time.Hour))
	clockSynced.Store(0)
	now()
	if got := clockOffset.Load(); abs(got-trueOffset) > int64(time.Millisecond) {
		t.Errorf("offset is %v off after a re-read", time.Duration(got-trueOffset))
	}
}
