package propagation

import (
	"context"
	"strings"

	"github.com/weftrace/weft/trace"
)

const hJaeger = "uber-trace-id"

var jaegerFields = []string{hJaeger}

// Jaeger propagates Jaeger's uber-trace-id header: {trace-id}:{span-id}:{parent-span-id}:{flags}, IDs in hex
// without leading zeroes (a trace ID of up to 32 digits), flags in hex with bit 1 sampled and bit 2 debug. Debug
// travels as priority 2. The URL-encoded form (%3A for ':') that some clients send is accepted. Jaeger's
// uberctx-* baggage headers are JaegerBaggage's.
type Jaeger struct{}

// Fields returns uber-trace-id.
func (Jaeger) Fields() []string { return jaegerFields }

// Inject writes uber-trace-id. The trace ID is written with 16 digits when its upper half is zero, as Jaeger's
// clients do, and with 32 otherwise.
func (Jaeger) Inject(ctx context.Context, c Carrier) {
	sc := injectContext(ctx)
	if !sc.IsValid() {
		return
	}
	var buf [64]byte
	c.Set(hJaeger, string(AppendJaeger(buf[:0], sc)))
}

// AppendJaeger appends sc's uber-trace-id header value to b.
func AppendJaeger(b []byte, sc trace.SpanContext) []byte {
	if beUint64(sc.TraceID[:8]) == 0 {
		b = appendHex(b, sc.TraceID[8:])
	} else {
		b = appendHex(b, sc.TraceID[:])
	}
	b = append(b, ':')
	b = appendHex(b, sc.SpanID[:])
	b = append(b, ":0:"...)
	var f byte
	if sc.IsSampled() {
		f = 1
	}
	switch {
	case sc.Priority == 2:
		f = 3
	case sc.Priority != trace.PriorityUnset && sc.Priority <= 0:
		f = 0
	}
	return append(b, hexDigits[f])
}

// Extract reads uber-trace-id.
func (p Jaeger) Extract(ctx context.Context, c Carrier) context.Context {
	if sc, ok := p.extract(c); ok {
		return contextWithRemote(ctx, sc)
	}
	return ctx
}

func (Jaeger) extract(c Carrier) (trace.SpanContext, bool) {
	v := trimOWS(c.Get(hJaeger))
	if v == "" {
		return trace.SpanContext{}, false
	}
	sc, err := ParseJaeger(v)
	if err != nil {
		fail(failJaeger)
		return trace.SpanContext{}, false
	}
	return sc, true
}

// ParseJaeger parses an uber-trace-id header value.
func ParseJaeger(s string) (trace.SpanContext, error) {
	sc := trace.SpanContext{Remote: true, Priority: trace.PriorityUnset}
	v := s
	if strings.Contains(v, "%3") {
		v = strings.ReplaceAll(strings.ReplaceAll(v, "%3A", ":"), "%3a", ":")
	}
	tid, rest, _ := strings.Cut(v, ":")
	sid, rest, _ := strings.Cut(rest, ":")
	parent, flags, ok := strings.Cut(rest, ":")
	if !ok || strings.Contains(flags, ":") {
		return sc, parseError(hJaeger, s, "want four fields separated by ':'")
	}
	if !decodeHexPadded(sc.TraceID[:], tid, false) || !sc.TraceID.IsValid() {
		return sc, parseError(hJaeger, s, "trace ID must be 1 to 32 hex digits, not all zero")
	}
	if !decodeHexPadded(sc.SpanID[:], sid, false) || !sc.SpanID.IsValid() {
		return sc, parseError(hJaeger, s, "span ID must be 1 to 16 hex digits, not all zero")
	}
	var p trace.SpanID
	if !decodeHexPadded(p[:], parent, false) {
		return sc, parseError(hJaeger, s, "parent span ID must be 1 to 16 hex digits")
	}
	var f [1]byte
	if !decodeHexPadded(f[:], flags, false) {
		return sc, parseError(hJaeger, s, "flags must be 1 or 2 hex digits")
	}
	if f[0]&1 != 0 {
		sc.Flags |= trace.FlagSampled
	}
	if f[0]&2 != 0 {
		sc.Flags |= trace.FlagSampled
		sc.Priority = 2
	}
	return sc, nil
}
