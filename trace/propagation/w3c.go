package propagation

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/internal/slab"
)

const (
	hTraceparent = "traceparent"
	hTracestate  = "tracestate"

	// weftKey is weft's tracestate member: the event that sent the request, "<unit16hex>:<seq>".
	weftKey = trace.TraceStateKey
	// ddKey is Datadog's tracestate member; weft reads and writes its sampling priority (s) and origin (o) so
	// that a priority travels through W3C-only hops.
	ddKey = "dd"

	maxTracestateMembers = 32
)

var w3cFields = []string{hTraceparent, hTracestate}

// W3C propagates the W3C trace context: the traceparent and tracestate headers
// (https://www.w3.org/TR/trace-context/). On inject it puts weft's own tracestate member first,
// weft=<unit16hex>:<seq>, naming the event that sent the request, so that the receiving span's start can name
// it as its cause; on extract it reads that member into SpanContext.Cause. A Datadog sampling priority that the
// sampled flag cannot express (user keep or reject) and a Datadog origin travel in the dd member, as Datadog's
// own tracers write it.
type W3C struct{}

// Fields returns traceparent and tracestate.
func (W3C) Fields() []string { return w3cFields }

// Inject writes traceparent and, when there is anything to say, tracestate.
func (W3C) Inject(ctx context.Context, c Carrier) {
	sc := injectContext(ctx)
	if !sc.IsValid() {
		return
	}
	// The send event is recorded only when a recording span sends; a process that merely passes a remote
	// context on keeps the original sender's weft member.
	send := trace.RecordSend(ctx)
	// Both values share one string and, on an http.Header, both value slices one array, carved from per-P slabs
	// (internal/slab): an inject costs no allocation of its own.
	var buf [256]byte
	b := AppendTraceparent(buf[:0], sc)
	b = appendOutgoingTracestate(b, sc, send)
	both := headerStrings.Make(b)
	tp, ts := both[:55], both[55:]
	if h, ok := c.(HeaderCarrier); ok {
		setHeaders(h, tp, ts)
		return
	}
	c.Set(hTraceparent, tp)
	if ts != "" {
		c.Set(hTracestate, ts)
	}
}

// setHeaders writes traceparent and (if not empty) tracestate into h, both value slices in one array. Values
// already in h are replaced, never written over in place: a header map copied shallowly (a proxy copying a
// request's headers) shares its value slices with the original.
func setHeaders(h HeaderCarrier, tp, ts string) {
	if ts == "" {
		delete(h, "Tracestate") // a header being re-sent must not keep an older list
		vs := headerValues.Take()
		vs[0] = tp
		h["Traceparent"] = vs[0:1:1]
		return
	}
	vs := headerValues.Take()
	vs[0], vs[1] = tp, ts
	h["Traceparent"], h["Tracestate"] = vs[0:1:1], vs[1:2:2]
}

// Injected header values are never reused (the carrier keeps them), so they come from slabs: a string of both
// values from a chunk of bytes, and the two value slices from one array. A header kept long keeps its chunk
// (4 KiB) and its array's slab (8 KiB) alive.
var (
	headerStrings = slab.NewStrings(4096)
	headerValues  = slab.New[[2]string](8192)
)

// Extract reads traceparent and tracestate. A traceparent that is missing, repeated or malformed yields no
// context; a malformed tracestate is dropped while the traceparent is kept, as the specification asks.
func (p W3C) Extract(ctx context.Context, c Carrier) context.Context {
	if sc, ok := p.extract(c); ok {
		return contextWithRemote(ctx, sc)
	}
	return ctx
}

func (W3C) extract(c Carrier) (trace.SpanContext, bool) {
	var tp string
	var states []string
	var tps []string
	// The common carrier first, by its concrete type: no interface conversion, no key canonicalisation.
	h, hasValues := c.(HeaderCarrier)
	if hasValues {
		tps, states = h["Traceparent"], h["Tracestate"]
	} else if vc, ok := c.(ValuesCarrier); ok {
		tps, states, hasValues = vc.Values(hTraceparent), vc.Values(hTracestate), true
	}
	if hasValues {
		if len(tps) > 1 {
			fail(failTraceparent)
			return trace.SpanContext{}, false
		}
		if len(tps) == 1 {
			tp = tps[0]
		}
	} else {
		tp = c.Get(hTraceparent)
	}
	if tp == "" {
		return trace.SpanContext{}, false
	}
	sc, err := ParseTraceparent(tp)
	if err != nil {
		fail(failTraceparent)
		return trace.SpanContext{}, false
	}
	var ts string
	if hasValues {
		ts = joinList(states)
	} else {
		ts = c.Get(hTracestate)
	}
	if ts = trimOWS(ts); ts != "" {
		if readTracestate(&sc, ts) {
			sc.TraceState = ts
		} else {
			fail(failTracestate)
		}
	}
	return sc, true
}

// joinList combines repeated list headers (tracestate, baggage) into one list, skipping empty ones.
func joinList(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	var n int
	for _, v := range vs {
		n += len(v) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range vs {
		if v = trimOWS(v); v == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	return b.String()
}

// ParseError says which header did not parse and why.
type ParseError struct {
	Header string // the header's name, lowercase
	Value  string // the value that was rejected, cut to 64 bytes
	Reason string
}

// Error says which header was malformed and how.
func (e *ParseError) Error() string {
	return "propagation: malformed " + e.Header + " " + strconv.Quote(e.Value) + ": " + e.Reason
}

func parseError(header, value, reason string) error {
	if len(value) > 64 {
		value = value[:64]
	}
	return &ParseError{Header: header, Value: value, Reason: reason}
}

// ParseTraceparent parses a W3C traceparent header value: version-traceid-parentid-flags. Versions above 00 are
// accepted when their first four fields have the version 00 layout; version ff is invalid. The result is marked
// Remote, with no priority.
func ParseTraceparent(s string) (trace.SpanContext, error) {
	s = trimOWS(s)
	sc := trace.SpanContext{Remote: true, Priority: trace.PriorityUnset}
	if len(s) == 55 && s[0] == '0' && s[1] == '0' && s[2] == '-' && s[35] == '-' && s[52] == '-' {
		// Version 00, the layout every sender writes today: one pass over fixed offsets. Anything it rejects
		// goes through the field-by-field checks below, which say what was wrong.
		if decodeTraceparent00(&sc, s) {
			return sc, nil
		}
	}
	if len(s) < 55 {
		return sc, parseError(hTraceparent, s, "shorter than 55 characters")
	}
	var ver [1]byte
	if !decodeHex(ver[:], s[0:2], true) {
		return sc, parseError(hTraceparent, s, "version is not two lowercase hex digits")
	}
	if ver[0] == 0xff {
		return sc, parseError(hTraceparent, s, "version ff is invalid")
	}
	if ver[0] == 0 && len(s) != 55 {
		return sc, parseError(hTraceparent, s, "version 00 must be exactly 55 characters")
	}
	if len(s) > 55 && s[55] != '-' {
		return sc, parseError(hTraceparent, s, "future version's fields must be separated by '-'")
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return sc, parseError(hTraceparent, s, "fields must be separated by '-'")
	}
	if !decodeHex(sc.TraceID[:], s[3:35], true) || !sc.TraceID.IsValid() {
		return sc, parseError(hTraceparent, s, "trace-id must be 32 lowercase hex digits, not all zero")
	}
	if !decodeHex(sc.SpanID[:], s[36:52], true) || !sc.SpanID.IsValid() {
		return sc, parseError(hTraceparent, s, "parent-id must be 16 lowercase hex digits, not all zero")
	}
	var flags [1]byte
	if !decodeHex(flags[:], s[53:55], true) {
		return sc, parseError(hTraceparent, s, "trace-flags must be two lowercase hex digits")
	}
	sc.Flags = trace.TraceFlags(flags[0])
	return sc, nil
}

// decodeTraceparent00 fills sc's IDs and flags from a 55-character version-00 traceparent whose separators have
// been checked, and reports whether all of its digits were lowercase hex and both IDs not zero. The 48 digits of
// the IDs are read eight at a time (hexWord8).
func decodeTraceparent00(sc *trace.SpanContext, s string) bool {
	_ = s[54]
	t0, ok0 := hexWord8(load64(s[3:11]))
	t1, ok1 := hexWord8(load64(s[11:19]))
	t2, ok2 := hexWord8(load64(s[19:27]))
	t3, ok3 := hexWord8(load64(s[27:35]))
	p0, ok4 := hexWord8(load64(s[36:44]))
	p1, ok5 := hexWord8(load64(s[44:52]))
	f1, f2 := hexLower[s[53]], hexLower[s[54]]
	binary.LittleEndian.PutUint32(sc.TraceID[0:4], t0)
	binary.LittleEndian.PutUint32(sc.TraceID[4:8], t1)
	binary.LittleEndian.PutUint32(sc.TraceID[8:12], t2)
	binary.LittleEndian.PutUint32(sc.TraceID[12:16], t3)
	binary.LittleEndian.PutUint32(sc.SpanID[0:4], p0)
	binary.LittleEndian.PutUint32(sc.SpanID[4:8], p1)
	sc.Flags = trace.TraceFlags(f1<<4 | f2&0x0f)
	return ok0 && ok1 && ok2 && ok3 && ok4 && ok5 && (f1|f2)&0xf0 == 0 && t0|t1|t2|t3 != 0 && p0|p1 != 0
}

// AppendTraceparent appends sc's traceparent header value (version 00) to b.
func AppendTraceparent(b []byte, sc trace.SpanContext) []byte {
	n := len(b)
	b = slices.Grow(b, 55)[:n+55]
	v := b[n : n+55 : n+55] // written in place, not through a copy
	v[0], v[1], v[2], v[35], v[52] = '0', '0', '-', '-', '-'
	putHex(v[3:35], sc.TraceID[:])
	putHex(v[36:52], sc.SpanID[:])
	// Only the sampled and random bits are defined; the others must be sent as zero.
	f := byte(sc.Flags) & 0x03
	v[53], v[54] = '0', hexDigits[f]
	return b
}

// ValidateTracestate checks a tracestate header value against the W3C grammar: at most 32 members, each a valid
// key (simple or tenant@system) and value, no key twice. Empty members and white space around commas are allowed.
func ValidateTracestate(s string) error {
	if reason := checkTracestate(s, nil); reason != "" {
		return parseError(hTracestate, s, reason)
	}
	return nil
}

// checkTracestate validates s in one pass, calling member (if not nil) for each valid member, and returns why
// s is invalid, or "".
func checkTracestate(s string, member func(k, v string)) string {
	// The first keys are kept for the duplicate check; later ones are checked by scanning s again, which the
	// 32-member limit bounds. Most lists have one to three members.
	var keys [8]string
	n := 0
	for rest := s; rest != ""; {
		start := len(s) - len(rest)
		var m string
		m, rest, _ = strings.Cut(rest, ",")
		if m = trimOWS(m); m == "" {
			continue
		}
		k, v, ok := strings.Cut(m, "=")
		if !ok {
			return "member without '='"
		}
		if !validTracestateKey(k) {
			return "invalid key " + strconv.Quote(k)
		}
		if !validTracestateValue(v) {
			return "invalid value for key " + strconv.Quote(k)
		}
		if n == maxTracestateMembers {
			return "more than 32 members"
		}
		if seenKey(s[:start], keys[:min(n, len(keys))], n > len(keys), k) {
			return "key " + strconv.Quote(k) + " appears twice"
		}
		if n < len(keys) {
			keys[n] = k
		}
		n++
		if member != nil {
			member(k, v)
		}
	}
	return ""
}

// seenKey reports whether k is among the keys before it: those in keys, and when there were more than keys
// holds (more is set), those of the list's text before the current member.
func seenKey(before string, keys []string, more bool, k string) bool {
	for _, prev := range keys {
		if prev == k {
			return true
		}
	}
	if !more {
		return false
	}
	for rest := before; rest != ""; {
		var m string
		m, rest, _ = strings.Cut(rest, ",")
		if pk, _, _ := strings.Cut(trimOWS(m), "="); pk == k {
			return true
		}
	}
	return false
}

func keyChar(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/'
}

func validKeyPart(s string, max int, digitFirst bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	if c := s[0]; !(c >= 'a' && c <= 'z') && !(digitFirst && c >= '0' && c <= '9') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !keyChar(s[i]) {
			return false
		}
	}
	return true
}

// validTracestateKey: simple-key = lcalpha 0*255(keychar); multi-tenant-key = (lcalpha/DIGIT) 0*240(keychar)
// "@" lcalpha 0*13(keychar).
func validTracestateKey(k string) bool {
	tenant, system, multi := strings.Cut(k, "@")
	if !multi {
		return validKeyPart(k, 256, false)
	}
	return validKeyPart(tenant, 241, true) && validKeyPart(system, 14, false)
}

// validTracestateValue: 0*255(chr) nblk-chr, chr = %x20 / nblk-chr, nblk-chr = %x21-2B / %x2D-3C / %x3E-7E.
func validTracestateValue(v string) bool {
	if len(v) == 0 || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

// readTracestate validates ts and, if it is valid, fills sc.Cause from the weft member and, when it agrees with
// the sampled flag, sc.Priority and sc.Origin from the dd member. It reports whether ts is valid; a malformed
// weft member is counted and ignored.
func readTracestate(sc *trace.SpanContext, ts string) bool {
	// The common case between weft services: the list is weft's member alone. A value that parses as an event
	// ID is a valid tracestate value, so the general check has nothing to add.
	if len(ts) > len(weftKey)+1 && ts[:len(weftKey)+1] == weftKey+"=" {
		if ev, ok := parseWeftMember(ts[len(weftKey)+1:]); ok {
			sc.Cause = ev
			return true
		}
	}
	var weft, dd string
	if checkTracestate(ts, func(k, v string) {
		switch k {
		case weftKey:
			weft = v
		case ddKey:
			dd = v
		}
	}) != "" {
		return false
	}
	if weft != "" {
		if ev, ok := parseWeftMember(weft); ok {
			sc.Cause = ev
		} else {
			fail(failTracestate)
		}
	}
	if dd != "" {
		readDatadogMember(sc, dd)
	}
	return true
}

// parseWeftMember reads the weft member's value, "<unit16hex>:<seq>" (docs/causality.md; trace.ParseEventID
// reads the same text, more slowly, for uses off the request path).
func parseWeftMember(v string) (trace.EventID, bool) {
	if len(v) < 18 || len(v) > 27 || v[16] != ':' {
		return trace.EventID{}, false
	}
	unit, ok := parseHex64(v[:16])
	seq, ok2 := parseUint(v[17:])
	if !ok || !ok2 || unit == 0 || seq > 1<<32-1 {
		return trace.EventID{}, false
	}
	return trace.EventID{Unit: unit, Seq: uint32(seq)}, true
}

func readDatadogMember(sc *trace.SpanContext, v string) {
	for rest := v; rest != ""; {
		var f string
		f, rest, _ = strings.Cut(rest, ";")
		name, val, _ := strings.Cut(f, ":")
		switch name {
		case "s":
			// The sampled flag is authoritative: a priority that contradicts it is stale.
			if p, ok := parseInt8(val); ok && (p > 0) == sc.IsSampled() {
				sc.Priority = p
			}
		case "o":
			sc.Origin = val
		}
	}
}

// priorityNeedsDD reports whether sc carries sampling information that the sampled flag alone cannot: a user
// decision (priority 2 or -1) or an origin.
func priorityNeedsDD(sc trace.SpanContext) bool {
	if sc.Origin != "" {
		return true
	}
	switch sc.Priority {
	case trace.PriorityUnset:
		return false
	case 0:
		return sc.IsSampled()
	case 1:
		return !sc.IsSampled()
	}
	return true
}

// outgoingTracestate is sc's tracestate with weft's member (naming send) and, when needed, the dd member moved to
// the front, as the specification asks of a vendor that updates its own member; the list is cut to 32 members.
func outgoingTracestate(sc trace.SpanContext, send trace.EventID) string {
	return string(appendOutgoingTracestate(nil, sc, send))
}

// appendOutgoingTracestate appends what outgoingTracestate returns.
func appendOutgoingTracestate(b []byte, sc trace.SpanContext, send trace.EventID) []byte {
	addWeft := send.IsValid()
	addDD := priorityNeedsDD(sc)
	if !addWeft && !addDD {
		return append(b, sc.TraceState...)
	}
	n := 0
	if addWeft {
		b = append(b, weftKey+"="...)
		b = send.AppendText(b)
		n++
	}
	if addDD {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, ddKey+"="...)
		sep := false
		if sc.Priority != trace.PriorityUnset {
			b = append(b, "s:"...)
			b = strconv.AppendInt(b, int64(sc.Priority), 10)
			sep = true
		}
		if sc.Origin != "" {
			if sep {
				b = append(b, ';')
			}
			b = append(b, "o:"...)
			b = appendDDValue(b, sc.Origin)
		}
		n++
	}
	for rest := sc.TraceState; rest != "" && n < maxTracestateMembers; {
		var m string
		m, rest, _ = strings.Cut(rest, ",")
		if m = trimOWS(m); m == "" {
			continue
		}
		k, _, _ := strings.Cut(m, "=")
		if (k == weftKey && addWeft) || (k == ddKey && addDD) {
			continue
		}
		b = append(b, ',')
		b = append(b, m...)
		n++
	}
	return b
}

// appendDDValue appends s with the characters a dd member value cannot hold replaced by '_'.
func appendDDValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == ',' || c == ';' || c == '=' {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}
