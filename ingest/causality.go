package ingest

import (
	"strconv"
	"strings"

	"github.com/weftrace/weft/model"
)

// The attribute keys of weft's causal wire format (docs/causality.md): what the weft library writes on a span and
// its events so that the execution units, sequence numbers and causal references survive OTLP, Zipkin and the
// other protocols.
const (
	AttrUnit     = "weft.unit"      // span: unit the span started on; event: unit when not the span's start unit
	AttrSeqStart = "weft.seq.start" // span: sequence number of its start event
	AttrSeqEnd   = "weft.seq.end"   // span: sequence number of its end event
	AttrUnitEnd  = "weft.unit.end"  // span: unit it ended on, when not the start unit
	AttrCause    = "weft.cause"     // span or event: the event it waited for
	AttrSeq      = "weft.seq"       // event: its sequence number
	AttrUnitary  = "weft.unitary"   // span: true when kept by unitary sampling (model.FlagUnitary)
)

// ExtractCausality moves the weft.* attributes of the causal wire format (docs/causality.md) from s.Attrs into
// s.Causality, those of each event into Event.Unit, Seq and Cause, and weft.unitary into FlagUnitary, removing
// them from the attributes. A span without a valid weft.unit is a foreign span and keeps its attributes. As the
// wire format says, a value that does not parse (wrong type, bad hex, a number out of range) is left as an ordinary
// attribute and the span keeps no causality; an event with such a value keeps its attributes and no place in the
// DAG. It never fails and never panics.
func ExtractCausality(s *model.Span) {
	if s == nil || !hasWeftKey(s.Attrs) { // every key it takes starts with "weft."; most spans have none
		return
	}
	extractUnitary(s)
	c, ok := spanCausality(s.Attrs)
	if !ok {
		return
	}
	s.Causality = c
	s.Attrs = filterAttrs(s.Attrs, func(a model.Attr) bool {
		switch a.Key {
		case AttrUnit, AttrSeqStart, AttrSeqEnd, AttrUnitEnd, AttrCause:
			return true
		}
		return false
	})
	for i := range s.Events {
		e := &s.Events[i]
		if !hasWeftKey(e.Attrs) {
			continue
		}
		if eventCausality(e, c.Unit) {
			e.Attrs = filterAttrs(e.Attrs, func(a model.Attr) bool {
				return a.Key == AttrSeq || a.Key == AttrUnit || a.Key == AttrCause
			})
		}
	}
}

// spanCausality reads the span's causal attributes; ok is false for a foreign span or a malformed value.
func spanCausality(attrs []model.Attr) (c model.Causality, ok bool) {
	for _, a := range attrs {
		switch a.Key {
		case AttrUnit:
			c.Unit, ok = parseUnit(a.Value)
		case AttrSeqStart:
			c.StartSeq, ok = parseSeq(a.Value)
		case AttrSeqEnd:
			c.EndSeq, ok = parseSeq(a.Value)
		case AttrUnitEnd:
			c.EndUnit, ok = parseUnit(a.Value)
		case AttrCause:
			c.StartCause, ok = parseCause(a.Value)
		default:
			continue
		}
		if !ok {
			return model.Causality{}, false
		}
	}
	if c.Unit == 0 {
		return model.Causality{}, false
	}
	if c.EndUnit == c.Unit {
		c.EndUnit = 0
	}
	return c, true
}

// eventCausality fills e's place in the DAG from its attributes and reports whether they all parsed; on false e
// is unchanged.
func eventCausality(e *model.Event, spanUnit uint64) bool {
	var unit uint64
	var seq uint32
	var cause model.EventRef
	for _, a := range e.Attrs {
		ok := true
		switch a.Key {
		case AttrSeq:
			seq, ok = parseSeq(a.Value)
		case AttrUnit:
			unit, ok = parseUnit(a.Value)
		case AttrCause:
			cause, ok = parseCause(a.Value)
		}
		if !ok {
			return false
		}
	}
	if unit == spanUnit {
		unit = 0 // zero means the span's start unit
	}
	e.Unit, e.Seq, e.Cause = unit, seq, cause
	return true
}

// extractUnitary moves weft.unitary (a bool, or "true"/"false" from clients whose tags are text) into FlagUnitary.
func extractUnitary(s *model.Span) {
	for i, a := range s.Attrs {
		if a.Key != AttrUnitary {
			continue
		}
		var unitary bool
		switch {
		case a.Value.Type == model.TypeBool:
			unitary = a.Value.Bool()
		case a.Value.Type == model.TypeString && (a.Value.Str == "true" || a.Value.Str == "false"):
			unitary = a.Value.Str == "true"
		default:
			return
		}
		if unitary {
			s.Flags |= model.FlagUnitary
		}
		s.Attrs = append(s.Attrs[:i:i], s.Attrs[i+1:]...)
		if len(s.Attrs) == 0 {
			s.Attrs = nil
		}
		return
	}
}

// hasWeftKey reports whether any attribute key starts with "weft.", so that events of foreign spans cost a scan
// and no writes.
func hasWeftKey(attrs []model.Attr) bool {
	for i := range attrs {
		if strings.HasPrefix(attrs[i].Key, "weft.") {
			return true
		}
	}
	return false
}

// filterAttrs removes, in place and keeping order, the attributes for which take returns true.
func filterAttrs(attrs []model.Attr, take func(model.Attr) bool) []model.Attr {
	out := attrs[:0]
	for _, a := range attrs {
		if !take(a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// parseUnit reads an execution unit: a string of exactly 16 hex digits, not all zero.
func parseUnit(v model.Value) (uint64, bool) {
	if v.Type != model.TypeString {
		return 0, false
	}
	return parseUnitText(v.Str)
}

func parseUnitText(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	u, err := strconv.ParseUint(s, 16, 64)
	if err != nil || u == 0 {
		return 0, false
	}
	return u, true
}

// parseSeq reads a sequence number: an int, or a decimal string (Zipkin and Jaeger clients carry tags as
// text), from 0 to 2^32-1.
func parseSeq(v model.Value) (uint32, bool) {
	switch v.Type {
	case model.TypeInt:
		n := v.Int()
		if n < 0 || n > 1<<32-1 {
			return 0, false
		}
		return uint32(n), true
	case model.TypeString:
		return parseSeqText(v.Str)
	}
	return 0, false
}

func parseSeqText(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// parseCause reads "<unit16hex>:<seq>" or "<traceid32hex>:<unit16hex>:<seq>".
func parseCause(v model.Value) (model.EventRef, bool) {
	if v.Type != model.TypeString {
		return model.EventRef{}, false
	}
	return ParseEventRef(v.Str)
}

// ParseEventRef reads an event reference in the wire format's text form, "<unit16hex>:<seq decimal>" or
// "<traceid32hex>:<unit16hex>:<seq decimal>" (an event of another trace), as carried by weft.cause and the
// weft entry of W3C tracestate.
func ParseEventRef(s string) (model.EventRef, bool) {
	var r model.EventRef
	first, rest, ok := strings.Cut(s, ":")
	if !ok {
		return r, false
	}
	if len(first) == 32 {
		t, err := model.ParseTraceID(first)
		if err != nil {
			return model.EventRef{}, false
		}
		r.TraceID = t
		if first, rest, ok = strings.Cut(rest, ":"); !ok {
			return model.EventRef{}, false
		}
	}
	u, ok := parseUnitText(first)
	if !ok {
		return model.EventRef{}, false
	}
	seq, ok := parseSeqText(rest)
	if !ok {
		return model.EventRef{}, false
	}
	r.Unit, r.Seq = u, seq
	return r, true
}

// FormatEventRef writes r in the wire format's text form; the inverse of ParseEventRef.
func FormatEventRef(r model.EventRef) string {
	b := make([]byte, 0, 60)
	if !r.TraceID.IsZero() {
		b = append(b, r.TraceID.String()...)
		b = append(b, ':')
	}
	b = appendUnit(b, r.Unit)
	b = append(b, ':')
	return string(strconv.AppendUint(b, uint64(r.Seq), 10))
}

// FormatUnit writes an execution unit as 16 lowercase hex digits.
func FormatUnit(u uint64) string { return string(appendUnit(nil, u)) }

func appendUnit(b []byte, u uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		b = append(b, digits[(u>>uint(i))&0xf])
	}
	return b
}

// SpanWeftAttrs is the inverse of ExtractCausality for exporters that show the causal fields as attributes or
// tags: the span's weft.* attributes, including weft.unitary for a span kept by unitary sampling (nil for a
// foreign span kept normally).
func SpanWeftAttrs(s *model.Span) []model.Attr {
	attrs := CausalityAttrs(s.Causality)
	if s.Flags&model.FlagUnitary != 0 {
		attrs = append(attrs, model.Attr{Key: AttrUnitary, Value: model.Bool(true)})
	}
	return attrs
}

// CausalityAttrs gives the weft.* attributes of a span's causal fields (nil for a foreign span).
func CausalityAttrs(c model.Causality) []model.Attr {
	if c.IsZero() {
		return nil
	}
	attrs := []model.Attr{
		{Key: AttrUnit, Value: model.String(FormatUnit(c.Unit))},
		{Key: AttrSeqStart, Value: model.Int(int64(c.StartSeq))},
		{Key: AttrSeqEnd, Value: model.Int(int64(c.EndSeq))},
	}
	if c.EndUnit != 0 && c.EndUnit != c.Unit {
		attrs = append(attrs, model.Attr{Key: AttrUnitEnd, Value: model.String(FormatUnit(c.EndUnit))})
	}
	if !c.StartCause.IsZero() {
		attrs = append(attrs, model.Attr{Key: AttrCause, Value: model.String(FormatEventRef(c.StartCause))})
	}
	return attrs
}

// EventCausalityAttrs gives an event's weft.* attributes (nil for an event with no place in the DAG).
func EventCausalityAttrs(e *model.Event) []model.Attr {
	if e.Seq == 0 && e.Unit == 0 && e.Cause.IsZero() {
		return nil
	}
	attrs := []model.Attr{{Key: AttrSeq, Value: model.Int(int64(e.Seq))}}
	if e.Unit != 0 {
		attrs = append(attrs, model.Attr{Key: AttrUnit, Value: model.String(FormatUnit(e.Unit))})
	}
	if !e.Cause.IsZero() {
		attrs = append(attrs, model.Attr{Key: AttrCause, Value: model.String(FormatEventRef(e.Cause))})
	}
	return attrs
}
