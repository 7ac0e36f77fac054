// Package sample has weft's head samplers: the decisions the library takes when a trace starts in (or enters)
// a process. Parent-based by default; probabilistic and consistent by trace ID, so that every service takes the
// same decision for the same trace; a rate limit in traces per second; rules on service, span name and
// attributes, each with a per-second reservoir plus a percentage, as AWS X-Ray does; and unitary sampling, which
// keeps a single slow or failed span when its trace was not sampled. Tail sampling is the collector's business.
//
// Samplers compose: sample.Unitary(sample.ParentBased(sample.Rules(rules, sample.Ratio(0.1))), time.Second, true).
package sample

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname

	"github.com/weftrace/weft/trace"
)

// Datadog's sampling priorities, which travel with every decision.
const (
	PriorityUserReject int8 = -1
	PriorityAutoReject int8 = 0
	PriorityAutoKeep   int8 = 1
	PriorityUserKeep   int8 = 2
)

func keep(p int8) trace.SamplingResult {
	return trace.SamplingResult{Decision: trace.RecordAndSample, Priority: p}
}
func drop(p int8) trace.SamplingResult {
	return trace.SamplingResult{Decision: trace.Drop, Priority: p}
}

type always struct{}

// Always samples every trace.
func Always() trace.Sampler { return always{} }

func (always) ShouldSample(trace.SamplingParams) trace.SamplingResult { return keep(PriorityAutoKeep) }
func (always) Description() string                                    { return "AlwaysSample" }

type never struct{}

// Never samples no trace.
func Never() trace.Sampler { return never{} }

func (never) ShouldSample(trace.SamplingParams) trace.SamplingResult { return drop(PriorityAutoReject) }
func (never) Description() string                                    { return "NeverSample" }

type parentBased struct{ root trace.Sampler }

// ParentBased follows the parent's decision when there is a parent (its sampling priority if it carried one,
// else its sampled flag), and asks root for a new trace. A remote decision without IDs (B3's "b3: 0", see
// trace.SpanContext.IsDecisionOnly) counts as a parent's decision. It is the library's default, with Always as
// root.
func ParentBased(root trace.Sampler) trace.Sampler { return parentBased{root} }

func (s parentBased) ShouldSample(p trace.SamplingParams) trace.SamplingResult {
	if !p.Parent.IsValid() && !p.Parent.IsDecisionOnly() {
		return s.root.ShouldSample(p)
	}
	sampled := p.Parent.IsSampled()
	if p.Parent.Priority != trace.PriorityUnset {
		sampled = p.Parent.Priority > 0
	}
	if sampled {
		return keep(p.Parent.Priority)
	}
	return drop(p.Parent.Priority)
}

func (s parentBased) Description() string { return "ParentBased{root:" + s.root.Description() + "}" }

type ratio struct {
	fraction  float64
	threshold uint64
}

// Ratio samples the given fraction of traces (0 to 1), deciding by the trace ID alone, so that every service
// (weft's, or OpenTelemetry's TraceIDRatioBased) takes the same decision for the same trace.
func Ratio(fraction float64) trace.Sampler {
	fraction = max(0, min(1, fraction))
	return ratio{fraction, ratioThreshold(fraction)}
}

func ratioThreshold(fraction float64) uint64 {
	if fraction >= 1 {
		return math.MaxUint64
	}
	return uint64(fraction * (1 << 63))
}

// inRatio is OpenTelemetry's TraceIDRatioBased test: the low 63 bits of the trace ID's last 8 bytes below
// fraction·2^63.
func inRatio(id trace.TraceID, threshold uint64) bool {
	if threshold == math.MaxUint64 {
		return true
	}
	return binary.BigEndian.Uint64(id[8:16])>>1 < threshold
}

func (r ratio) ShouldSample(p trace.SamplingParams) trace.SamplingResult {
	if inRatio(p.TraceID, r.threshold) {
		return keep(PriorityAutoKeep)
	}
	return drop(PriorityAutoReject)
}

func (r ratio) Description() string { return fmt.Sprintf("TraceIDRatioBased{%g}", r.fraction) }

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// limiter is a lock-free rate limiter (the generic cell rate algorithm): it lets through perSecond events a
// second on average, with bursts of up to max(1, perSecond).
type limiter struct {
	interval  int64 // nanoseconds between events
	tolerance int64 // how far ahead of schedule a burst may run
	tat       atomic.Int64
}

func newLimiter(perSecond float64) *limiter {
	l := &limiter{}
	if perSecond <= 0 {
		l.interval = -1
		return l
	}
	l.interval = int64(float64(time.Second) / perSecond)
	l.tolerance = int64(float64(l.interval) * (max(1, perSecond) - 1))
	return l
}

func (l *limiter) allow() bool {
	return l.allowAt(nanotime())
}

func (l *limiter) allowAt(now int64) bool {
	if l.interval < 0 {
		return false
	}
	for {
		tat := l.tat.Load()
		if now < tat-l.tolerance {
			return false
		}
		next := max(tat, now) + l.interval
		if l.tat.CompareAndSwap(tat, next) {
			return true
		}
	}
}

type rateLimit struct {
	perSecond float64
	l         *limiter
}

// RateLimit samples at most perSecond new traces a second (bursts up to perSecond), whatever the traffic.
func RateLimit(perSecond float64) trace.Sampler {
	return &rateLimit{perSecond, newLimiter(perSecond)}
}

func (r *rateLimit) ShouldSample(trace.SamplingParams) trace.SamplingResult {
	if r.l.allow() {
		return keep(PriorityAutoKeep)
	}
	return drop(PriorityAutoReject)
}

func (r *rateLimit) Description() string { return fmt.Sprintf("RateLimit{%g/s}", r.perSecond) }

type unitary struct {
	inner     trace.Sampler
	threshold time.Duration
	errors    bool
}

// Unitary wraps inner so that a span whose trace inner drops is still recorded as a candidate, and kept on its
// own (marked unitary) if it lasted at least threshold (when threshold > 0) or, with errors, if it failed.
// Candidates cost a recorded span each; the trace stays unsampled downstream.
func Unitary(inner trace.Sampler, threshold time.Duration, errors bool) trace.UnitarySampler {
	return unitary{inner, threshold, errors}
}

func (u unitary) ShouldSample(p trace.SamplingParams) trace.SamplingResult {
	r := u.inner.ShouldSample(p)
	if r.Decision == trace.Drop {
		r.Decision = trace.UnitaryCandidate
	}
	return r
}

func (u unitary) KeepUnitary(d *trace.SpanData) bool {
	if u.errors && d.StatusCode == trace.StatusError {
		return true
	}
	return u.threshold > 0 && d.Duration() >= int64(u.threshold)
}

func (u unitary) Description() string {
	return fmt.Sprintf("Unitary{%s,threshold:%s,errors:%t}", u.inner.Description(), u.threshold, u.errors)
}
