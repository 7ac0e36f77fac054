package weft

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends t as JSON, byte for byte what encoding/json writes for it with HTML escaping off, several
// times faster: a 100,000-span trace is the UI's largest answer.
func (t *Trace) AppendJSON(b []byte) []byte {
	b = append(b, `{"traceID":`...)
	b = t.appendHeader(b)
	b = append(b, `,"spans":`...)
	if t.Spans == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range t.Spans {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.Spans[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"units":`...)
	b = appendUnits(b, t.Units, appendStrings)
	return append(b, '}')
}

// appendUnits writes units as JSON, each unit's spans written by appendSpans (as IDs in the regular answer, as
// span indexes in the columnar one).
func appendUnits(b []byte, units []Unit, appendSpans func([]byte, []string) []byte) []byte {
	if units == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, u := range units {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"unit":`...)
		b = appendString(b, u.Unit)
		b = append(b, `,"service":`...)
		b = appendString(b, u.Service)
		b = append(b, `,"spans":`...)
		b = appendSpans(b, u.Spans)
		b = append(b, `,"events":`...)
		b = strconv.AppendInt(b, int64(u.Events), 10)
		b = append(b, `,"minSeq":`...)
		b = strconv.AppendUint(b, uint64(u.MinSeq), 10)
		b = append(b, `,"maxSeq":`...)
		b = strconv.AppendUint(b, uint64(u.MaxSeq), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

func (s *Span) appendJSON(b []byte) []byte {
	b = append(b, `{"spanID":`...)
	b = appendString(b, s.SpanID)
	if s.ParentSpanID != "" {
		b = append(b, `,"parentSpanID":`...)
		b = appendString(b, s.ParentSpanID)
	}
	b = append(b, `,"name":`...)
	b = appendString(b, s.Name)
	b = append(b, `,"kind":`...)
	b = appendString(b, s.Kind)
	b = append(b, `,"service":`...)
	b = appendString(b, s.Service)
	b = append(b, `,"resource":`...)
	b = strconv.AppendInt(b, int64(s.Resource), 10)
	b = append(b, `,"start":`...)
	b = appendString(b, s.Start)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, s.Offset, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, s.Duration, 10)
	b = append(b, `,"status":{"code":`...)
	b = appendString(b, s.Status.Code)
	if s.Status.Message != "" {
		b = append(b, `,"message":`...)
		b = appendString(b, s.Status.Message)
	}
	b = append(b, '}')
	if s.SpanResource != "" {
		b = append(b, `,"spanResource":`...)
		b = appendString(b, s.SpanResource)
	}
	if s.SpanType != "" {
		b = append(b, `,"spanType":`...)
		b = appendString(b, s.SpanType)
	}
	if s.Scope != nil {
		b = append(b, `,"scope":{"name":`...)
		b = appendString(b, s.Scope.Name)
		if s.Scope.Version != "" {
			b = append(b, `,"version":`...)
			b = appendString(b, s.Scope.Version)
		}
		b = append(b, '}')
	}
	b = append(b, `,"attributes":`...)
	b = appendAttrs(b, s.Attributes)
	b = append(b, `,"events":`...)
	if s.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range s.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"time":`...)
			b = appendString(b, e.Time)
			b = append(b, `,"offset":`...)
			b = strconv.AppendInt(b, e.Offset, 10)
			b = append(b, `,"name":`...)
			b = appendString(b, e.Name)
			b = append(b, `,"attributes":`...)
			b = appendAttrs(b, e.Attributes)
			if e.Unit != "" {
				b = append(b, `,"unit":`...)
				b = appendString(b, e.Unit)
			}
			if e.Seq != 0 {
				b = append(b, `,"seq":`...)
				b = strconv.AppendUint(b, uint64(e.Seq), 10)
			}
			if e.Cause != nil {
				b = append(b, `,"cause":`...)
				b = appendRef(b, e.Cause)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"links":`...)
	if s.Links == nil {
		b = append(b, "null"...)
	} else {
		b = appendLinks(b, s.Links)
	}
	if s.TraceState != "" {
		b = append(b, `,"traceState":`...)
		b = appendString(b, s.TraceState)
	}
	if len(s.Flags) > 0 {
		b = append(b, `,"flags":`...)
		b = appendStrings(b, s.Flags)
	}
	if c := s.Causality; c != nil {
		b = append(b, `,"causality":{"unit":`...)
		b = appendString(b, c.Unit)
		b = append(b, `,"startSeq":`...)
		b = strconv.AppendUint(b, uint64(c.StartSeq), 10)
		if c.EndUnit != "" {
			b = append(b, `,"endUnit":`...)
			b = appendString(b, c.EndUnit)
		}
		b = append(b, `,"endSeq":`...)
		b = strconv.AppendUint(b, uint64(c.EndSeq), 10)
		if c.StartCause != nil {
			b = append(b, `,"startCause":`...)
			b = appendRef(b, c.StartCause)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendRef(b []byte, r *EventRef) []byte {
	b = append(b, '{')
	if r.TraceID != "" {
		b = append(b, `"traceID":`...)
		b = appendString(b, r.TraceID)
		b = append(b, ',')
	}
	b = append(b, `"unit":`...)
	b = appendString(b, r.Unit)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, uint64(r.Seq), 10)
	return append(b, '}')
}

func appendServices(b []byte, ss []ServiceCount) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"service":`...)
		b = appendString(b, s.Service)
		b = append(b, `,"spans":`...)
		b = strconv.AppendInt(b, int64(s.Spans), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendAttrs(b []byte, as []Attr) []byte {
	if as == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendString(b, a.Key)
		b = append(b, `,"type":`...)
		b = appendString(b, a.Type)
		b = append(b, `,"value":`...)
		b = appendAny(b, a.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendAny writes the values jsonValue makes.
func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		return appendFloat(b, x)
	case []byte:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAny(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // as encoding/json orders map keys
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendAny(b, x[k])
		}
		return append(b, '}')
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// appendFloat formats as encoding/json does: 'f' in [1e-6, 1e21), otherwise 'e' with a short exponent.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...) // jsonValue never produces them
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028
// and U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendLinks writes links as a JSON array, as encoding/json would; the regular and the columnar trace answers
// share it.
func appendLinks(b []byte, links []Link) []byte {
	b = append(b, '[')
	for i, l := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"traceID":`...)
		b = appendString(b, l.TraceID)
		b = append(b, `,"spanID":`...)
		b = appendString(b, l.SpanID)
		if l.TraceState != "" {
			b = append(b, `,"traceState":`...)
			b = appendString(b, l.TraceState)
		}
		b = append(b, `,"attributes":`...)
		b = appendAttrs(b, l.Attributes)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendHeader writes the trace's own fields, from the trace ID's value through "resources", which the regular
// and the columnar answers share.
func (t *Trace) appendHeader(b []byte) []byte {
	b = appendString(b, t.TraceID)
	b = append(b, `,"start":`...)
	b = appendString(b, t.Start)
	b = append(b, `,"end":`...)
	b = appendString(b, t.End)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, t.Duration, 10)
	b = append(b, `,"spanCount":`...)
	b = strconv.AppendInt(b, int64(t.SpanCount), 10)
	b = append(b, `,"errorCount":`...)
	b = strconv.AppendInt(b, int64(t.ErrorCount), 10)
	b = append(b, `,"services":`...)
	b = appendServices(b, t.Services)
	b = append(b, `,"resources":`...)
	if t.Resources == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range t.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"service":`...)
			b = appendString(b, r.Service)
			b = append(b, `,"attributes":`...)
			b = appendAttrs(b, r.Attributes)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return b
}
