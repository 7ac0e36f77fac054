package propagation

import (
	"context"
	"strings"

	"github.com/weftrace/weft/trace"
)

const (
	hB3             = "b3"
	hB3TraceID      = "x-b3-traceid"
	hB3SpanID       = "x-b3-spanid"
	hB3ParentSpanID = "x-b3-parentspanid"
	hB3Sampled      = "x-b3-sampled"
	hB3Flags        = "x-b3-flags"
)

var (
	b3Fields      = []string{hB3}
	b3MultiFields = []string{hB3TraceID, hB3SpanID, hB3ParentSpanID, hB3Sampled, hB3Flags}
)

// B3 propagates Zipkin's B3 single header, b3: {traceid}-{spanid}-{sampled}-{parentspanid}
// (https://github.com/openzipkin/b3-propagation). The sampling state is 1, 0 or d (debug); debug travels as
// Datadog priority 2 (user keep) and a priority of 2 is injected as d. A trace ID of 16 digits is the lower half
// of a 128-bit ID. A header that carries only a sampling state (b3: 0) is a decision without IDs
// (trace.SpanContext.IsDecisionOnly): the next span starts a new trace, which a parent-based sampler samples or
// not as told, and such a context is injected as the state alone.
type B3 struct{}

// Fields returns b3.
func (B3) Fields() []string { return b3Fields }

// Inject writes the b3 header.
func (B3) Inject(ctx context.Context, c Carrier) {
	sc := injectContext(ctx)
	if !sc.IsValid() {
		if sc.IsDecisionOnly() {
			c.Set(hB3, b3StateValue(sc))
		}
		return
	}
	var buf [51]byte
	c.Set(hB3, string(AppendB3(buf[:0], sc)))
}

// Extract reads the b3 header.
func (p B3) Extract(ctx context.Context, c Carrier) context.Context {
	if sc, ok := p.extract(c); ok {
		return contextWithRemote(ctx, sc)
	}
	return ctx
}

func (B3) extract(c Carrier) (trace.SpanContext, bool) {
	v := trimOWS(c.Get(hB3))
	if v == "" {
		return trace.SpanContext{}, false
	}
	if len(v) == 1 { // sampling state only: a decision without IDs
		return decisionOnly(v, "")
	}
	sc, err := ParseB3(v)
	if err != nil {
		fail(failB3)
		return trace.SpanContext{}, false
	}
	return sc, true
}

// AppendB3 appends sc's b3 single-header value to b: 32-digit trace ID, span ID and sampling state.
func AppendB3(b []byte, sc trace.SpanContext) []byte {
	b = appendHex(b, sc.TraceID[:])
	b = append(b, '-')
	b = appendHex(b, sc.SpanID[:])
	return append(b, '-', b3State(sc))
}

// decisionOnly reads a B3 sampling state (the single header's, or X-B3-Sampled) and X-B3-Flags that came
// without IDs into a decision-only context (trace.SpanContext.IsDecisionOnly); a malformed one is counted and
// ignored.
func decisionOnly(state, flags string) (trace.SpanContext, bool) {
	sc := trace.SpanContext{Remote: true, Priority: trace.PriorityUnset}
	ok := (state == "" || applyB3State(&sc, state)) && applyB3Flags(&sc, flags)
	if !ok || (state == "" && flags == "") {
		fail(failB3)
		return trace.SpanContext{}, false
	}
	return sc, true
}

// b3StateValue is b3State as a header value.
func b3StateValue(sc trace.SpanContext) string {
	switch b3State(sc) {
	case 'd':
		return "d"
	case '1':
		return "1"
	}
	return "0"
}

func b3State(sc trace.SpanContext) byte {
	switch {
	case sc.Priority == 2:
		return 'd'
	case sc.Priority != trace.PriorityUnset && sc.Priority <= 0:
		return '0'
	case sc.IsSampled():
		return '1'
	}
	return '0'
}

// ParseB3 parses a b3 single-header value that carries IDs.
func ParseB3(s string) (trace.SpanContext, error) {
	sc := trace.SpanContext{Remote: true, Priority: trace.PriorityUnset}
	tid, rest, _ := strings.Cut(s, "-")
	sid, rest, hasState := strings.Cut(rest, "-")
	if !parseB3TraceID(&sc.TraceID, tid) {
		return sc, parseError(hB3, s, "trace ID must be 16 or 32 lowercase hex digits, not all zero")
	}
	if !decodeHex(sc.SpanID[:], sid, true) || !sc.SpanID.IsValid() {
		return sc, parseError(hB3, s, "span ID must be 16 lowercase hex digits, not all zero")
	}
	if !hasState {
		return sc, nil // deferred decision: the receiver's sampler decides
	}
	state, parent, hasParent := strings.Cut(rest, "-")
	if !applyB3State(&sc, state) {
		return sc, parseError(hB3, s, "sampling state must be 0, 1 or d")
	}
	if hasParent {
		var p trace.SpanID
		if !decodeHex(p[:], parent, true) || !p.IsValid() {
			return sc, parseError(hB3, s, "parent span ID must be 16 lowercase hex digits, not all zero")
		}
	}
	return sc, nil
}

func parseB3TraceID(t *trace.TraceID, s string) bool {
	switch len(s) {
	case 32:
		return decodeHex(t[:], s, true) && t.IsValid()
	case 16:
		*t = trace.TraceID{}
		return decodeHex(t[8:], s, true) && t.IsValid()
	}
	return false
}

func applyB3State(sc *trace.SpanContext, state string) bool {
	switch state {
	case "1", "true":
		sc.Flags |= trace.FlagSampled
	case "0", "false":
		sc.Flags &^= trace.FlagSampled
	case "d":
		sc.Flags |= trace.FlagSampled
		sc.Priority = 2
	default:
		return false
	}
	return true
}

// B3Multi propagates Zipkin's B3 multiple headers: X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId, X-B3-Sampled
// (1 or 0; true and false from old clients are accepted) and X-B3-Flags (1 = debug, which travels as priority 2).
type B3Multi struct{}

// Fields returns the five x-b3-* headers.
func (B3Multi) Fields() []string { return b3MultiFields }

// Inject writes X-B3-TraceId, X-B3-SpanId and either X-B3-Sampled or, for a debug trace, X-B3-Flags.
func (B3Multi) Inject(ctx context.Context, c Carrier) {
	sc := injectContext(ctx)
	if !sc.IsValid() && !sc.IsDecisionOnly() {
		return
	}
	if sc.IsValid() {
		var buf [32]byte
		c.Set(hB3TraceID, string(appendHex(buf[:0], sc.TraceID[:])))
		c.Set(hB3SpanID, string(appendHex(buf[:0], sc.SpanID[:])))
	}
	switch b3State(sc) {
	case 'd':
		c.Set(hB3Flags, "1")
	case '1':
		c.Set(hB3Sampled, "1")
	default:
		c.Set(hB3Sampled, "0")
	}
}

// Extract reads the x-b3-* headers.
func (p B3Multi) Extract(ctx context.Context, c Carrier) context.Context {
	if sc, ok := p.extract(c); ok {
		return contextWithRemote(ctx, sc)
	}
	return ctx
}

func (B3Multi) extract(c Carrier) (trace.SpanContext, bool) {
	tid, sid := trimOWS(c.Get(hB3TraceID)), trimOWS(c.Get(hB3SpanID))
	if tid == "" && sid == "" {
		// A sampling decision without IDs (X-B3-Sampled: 0), or nothing of B3 at all.
		state, flags := trimOWS(c.Get(hB3Sampled)), trimOWS(c.Get(hB3Flags))
		if state == "" && flags == "" {
			return trace.SpanContext{}, false
		}
		if state == "d" { // not a value of X-B3-Sampled
			fail(failB3)
			return trace.SpanContext{}, false
		}
		return decisionOnly(state, flags)
	}
	sc := trace.SpanContext{Remote: true, Priority: trace.PriorityUnset}
	ok := parseB3TraceID(&sc.TraceID, tid) && decodeHex(sc.SpanID[:], sid, true) && sc.SpanID.IsValid()
	if ok {
		if s := trimOWS(c.Get(hB3Sampled)); s != "" {
			ok = applyB3State(&sc, s) && s != "d"
		}
	}
	ok = ok && applyB3Flags(&sc, trimOWS(c.Get(hB3Flags)))
	if ok {
		if p := trimOWS(c.Get(hB3ParentSpanID)); p != "" {
			var id trace.SpanID
			ok = decodeHex(id[:], p, true) && id.IsValid()
		}
	}
	if !ok {
		fail(failB3)
		return trace.SpanContext{}, false
	}
	return sc, true
}

// applyB3Flags applies X-B3-Flags to sc: "1" is debug, which B3 defines as sampled and weft carries as priority 2;
// "0" or no header changes nothing; anything else is malformed.
func applyB3Flags(sc *trace.SpanContext, flags string) bool {
	switch flags {
	case "", "0":
		return true
	case "1":
		sc.Flags |= trace.FlagSampled
		sc.Priority = 2
		return true
	}
	return false
}
