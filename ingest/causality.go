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
)

// ExtractCausality moves the weft.* attributes of the causal wire format from s.Attrs into s.Causality, and those
// of each event into Event.Unit, Seq and Cause, removing them from the attributes. A span without a valid weft.unit
// is not a weft span and keeps all its attributes; any single value that is malformed (wrong type, bad hex, a
// number out of range) stays behind as an ordinary attribute. It never fails and never panics.
func ExtractCausality(s *model.Span) {
	if s == nil {
		return
	}
	unit, ok := lookupUnit(s.Attrs, AttrUnit)
	if !ok {
		return
	}
	c := model.Causality{Unit: unit}
	s.Attrs = filterAttrs(s.Attrs, func(a model.Attr) bool {
		switch a.Key {
		case AttrUnit:
			return true
		case AttrSeqStart:
			if v, ok := parseSeq(a.Value); ok {
				c.StartSeq = v
				return true
			}
			return false
		case AttrSeqEnd:
			if v, ok := parseSeq(a.Value); ok {
				c.EndSeq = v
				return true
			}
			return false
		case AttrUnitEnd:
			if v, ok := parseUnit(a.Value); ok {
				c.EndUnit = v
				return true
			}
			return false
		case AttrCause:
			if v, ok := parseCause(a.Value); ok {
				c.StartCause = v
				return true
			}
			return false
		}
		return false
	})
	if c.EndUnit == c.Unit {
		c.EndUnit = 0
	}
	s.Causality = c
	for i := range s.Events {
		e := &s.Events[i]
		if !hasWeftKey(e.Attrs) {
			continue
		}
		e.Attrs = filterAttrs(e.Attrs, func(a model.Attr) bool {
			switch a.Key {
			case AttrSeq:
				if v, ok := parseSeq(a.Value); ok {
					e.Seq = v
					return true
				}
				return false
			case AttrUnit:
				u, ok := parseUnit(a.Value)
				if !ok {
					return false
				}
				if u != unit { // zero means the span's start unit
					e.Unit = u
				}
				return true
			case AttrCause:
				if v, ok := parseCause(a.Value); ok {
					e.Cause = v
					return true
				}
				return false
			}
			return false
		})
	}
}

// hasWeftKey reports whether any attribute key starts with "weft.", so that events of foreign spans cost a scan
// and no writes.
func hasWeftKey(attrs []model.Attr) bool {
	for _, a := range attrs {
		if strings.HasPrefix(a.Key, "weft.") {
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

func lookupUnit(attrs []model.Attr, key string) (uint64, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return parseUnit(a.Value)
		}
	}
	return 0, false
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

// CausalityAttrs is the inverse of ExtractCausality for exporters that show the causal fields as tags: the
// span's weft.* attributes (nil for a foreign span).
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
