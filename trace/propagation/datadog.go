package propagation

import (
	"context"
	"strconv"
	"strings"

	"github.com/weftrace/weft/trace"
)

const (
	hDDTraceID  = "x-datadog-trace-id"
	hDDParentID = "x-datadog-parent-id"
	hDDPriority = "x-datadog-sampling-priority"
	hDDOrigin   = "x-datadog-origin"
	hDDTags     = "x-datadog-tags"

	ddTraceIDHigh = "_dd.p.tid"
)

var datadogFields = []string{hDDTraceID, hDDParentID, hDDPriority, hDDOrigin, hDDTags}

// Datadog propagates Datadog's headers: x-datadog-trace-id and x-datadog-parent-id (decimal, the lower 64 bits
// of the trace ID and the span ID), x-datadog-sampling-priority (-1 user reject, 0 auto reject, 1 auto keep,
// 2 user keep), x-datadog-origin, and the upper 64 bits of a 128-bit trace ID as _dd.p.tid (16 hex digits) in
// x-datadog-tags. A context without a priority is injected with 1 or 0 from its sampled flag; on extract a
// positive priority sets the sampled flag.
type Datadog struct{}

// Fields returns the five x-datadog-* headers.
func (Datadog) Fields() []string { return datadogFields }

// Inject writes the x-datadog-* headers.
func (Datadog) Inject(ctx context.Context, c Carrier) {
	sc := injectContext(ctx)
	if !sc.IsValid() {
		return
	}
	var buf [32]byte
	c.Set(hDDTraceID, string(strconv.AppendUint(buf[:0], beUint64(sc.TraceID[8:]), 10)))
	c.Set(hDDParentID, string(strconv.AppendUint(buf[:0], beUint64(sc.SpanID[:]), 10)))
	p := sc.Priority
	if p == trace.PriorityUnset {
		p = 0
		if sc.IsSampled() {
			p = 1
		}
	}
	c.Set(hDDPriority, priorityString(p))
	if sc.Origin != "" {
		c.Set(hDDOrigin, sc.Origin)
	}
	if hi := beUint64(sc.TraceID[:8]); hi != 0 {
		c.Set(hDDTags, string(appendHex64(append(buf[:0], ddTraceIDHigh+"="...), hi)))
	}
}

func priorityString(p int8) string {
	switch p {
	case -1:
		return "-1"
	case 0:
		return "0"
	case 1:
		return "1"
	case 2:
		return "2"
	}
	return strconv.Itoa(int(p))
}

// Extract reads the x-datadog-* headers. A malformed _dd.p.tid is counted and ignored: the context continues
// with the 64-bit trace ID, which is the trace's identity for Datadog's own tracers.
func (p Datadog) Extract(ctx context.Context, c Carrier) context.Context {
	if sc, ok := p.extract(c); ok {
		return contextWithRemote(ctx, sc)
	}
	return ctx
}

func (Datadog) extract(c Carrier) (trace.SpanContext, bool) {
	tid, pid := trimOWS(c.Get(hDDTraceID)), trimOWS(c.Get(hDDParentID))
	if tid == "" && pid == "" {
		return trace.SpanContext{}, false
	}
	sc := trace.SpanContext{Remote: true, Priority: trace.PriorityUnset}
	lo, ok1 := parseUint(tid)
	span, ok2 := parseUint(pid)
	if !ok1 || !ok2 || lo == 0 || span == 0 {
		fail(failDatadog)
		return trace.SpanContext{}, false
	}
	putBEUint64(sc.TraceID[8:], lo)
	putBEUint64(sc.SpanID[:], span)
	if s := trimOWS(c.Get(hDDPriority)); s != "" {
		p, ok := parseInt8(s)
		if !ok {
			fail(failDatadog)
			return trace.SpanContext{}, false
		}
		sc.Priority = p
		if p > 0 {
			sc.Flags |= trace.FlagSampled
		}
	}
	sc.Origin = trimOWS(c.Get(hDDOrigin))
	if tags := c.Get(hDDTags); tags != "" {
		for rest := tags; rest != ""; {
			var kv string
			kv, rest, _ = strings.Cut(rest, ",")
			k, v, _ := strings.Cut(trimOWS(kv), "=")
			if k != ddTraceIDHigh {
				continue
			}
			if hi, ok := parseHex64(v); ok && hi != 0 {
				putBEUint64(sc.TraceID[:8], hi)
			} else {
				fail(failDatadog)
			}
			break
		}
	}
	return sc, true
}
