package api

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/weftrace/weft/analyze"
	"github.com/weftrace/weft/model"
)

// writePath writes the critical-path answer to w, byte for byte as encoding/json would encode pathJSON(p),
// newline included, and returns the first error of w. A 100K-span trace's answer is tens of megabytes, most of it
// the same spans named again and again by the segments: each span's ID, service and name are escaped once here,
// nothing is built on the way to the bytes, and they go out 64 KiB at a time.
func writePath(w io.Writer, p *analyze.Path) error {
	const chunk = 64 << 10
	b := make([]byte, 0, chunk+4096)
	var err error
	flush := func() {
		if len(b) >= chunk && err == nil {
			_, err = w.Write(b)
			b = b[:0]
		}
	}

	traceID := ""
	if p.Root != nil {
		traceID = p.Root.TraceID.String()
	}
	b = append(b, `{"traceID":`...)
	b = appendString(b, traceID)
	b = append(b, `,"method":`...)
	b = appendString(b, p.Method)
	b = append(b, `,"complete":`...)
	b = strconv.AppendBool(b, p.Complete)
	b = append(b, `,"root":`...)
	if p.Root == nil {
		b = append(b, "null"...)
	} else {
		b = appendSpanRef(b, p.Root)
		b = append(b, '}')
	}
	b = append(b, `,"start":`...)
	b = strconv.AppendInt(b, usTime(p.Start), 10)
	b = append(b, `,"end":`...)
	b = strconv.AppendInt(b, usTime(p.End), 10)
	b = append(b, `,"duration":`...)
	b = appendMicros(b, p.End-p.Start)
	b = append(b, `,"length":`...)
	b = appendMicros(b, p.Length)

	refs := newSpanRefs(p)
	// The path is contiguous: a segment starts where the one before it ended, whose digits are copied.
	var endDigits [24]byte
	lastEnd, endLen := int64(math.MinInt64), 0
	b = append(b, `,"segments":[`...)
	for k, s := range p.Segments {
		if k > 0 {
			b = append(b, ',')
		}
		b = refs.append(b, int(s.Index), p.SpanAt(int(s.Index)))
		if s.Unit != 0 {
			b = append(b, `,"unit":"`...)
			b = appendHex16(b, s.Unit)
			b = append(b, '"')
		}
		if s.Kind == analyze.SegmentTransit {
			b = append(b, `,"kind":"transit"`...)
		} else {
			b = append(b, `,"kind":"run"`...)
		}
		b = append(b, `,"start":`...)
		if start := usTime(s.Start); start == lastEnd {
			b = append(b, endDigits[:endLen]...)
		} else {
			b = strconv.AppendInt(b, start, 10)
		}
		b = append(b, `,"end":`...)
		at := len(b)
		lastEnd = usTime(s.End)
		b = strconv.AppendInt(b, lastEnd, 10)
		endLen = copy(endDigits[:], b[at:])
		b = append(b, `,"duration":`...)
		b = appendMicros(b, s.End-s.Start)
		b = append(b, '}')
		flush()
	}
	b = append(b, `],"spans":[`...)
	for k, st := range p.Spans {
		if k > 0 {
			b = append(b, ',')
		}
		b = refs.append(b, st.Index, st.Span)
		b = append(b, `,"duration":`...)
		b = appendMicros(b, st.Span.Duration)
		b = append(b, `,"critical":`...)
		b = appendMicros(b, st.Critical)
		b = append(b, `,"self":`...)
		b = appendMicros(b, st.Self)
		b = append(b, '}')
		flush()
	}
	b = append(b, "]}\n"...)
	if err == nil {
		_, err = w.Write(b)
	}
	return err
}

// spanRefs remembers each span's escaped `{"spanID":…,"service":…,"name":…` by its index, once written.
type spanRefs struct {
	at  []uint64 // by span index: the bytes' start in buf << 32 | their end; 0 until written
	buf []byte
}

// newSpanRefs writes the refs of every span the path names, in the order of the spans given (for a trace read from
// the store, the order of their memory: the spans' fields are read as a stream, not one cache miss after another
// in the path's order).
func newSpanRefs(p *analyze.Path) *spanRefs {
	n := 0
	for _, s := range p.Segments {
		n = max(n, int(s.Index)+1)
	}
	for _, s := range p.Spans {
		n = max(n, s.Index+1)
	}
	r := &spanRefs{at: make([]uint64, n)}
	const needed = 1 // never a written ref's place: a ref is longer than one byte
	for _, s := range p.Segments {
		r.at[s.Index] = needed
	}
	for _, s := range p.Spans {
		r.at[s.Index] = needed
	}
	r.buf = make([]byte, 0, 64*len(p.Spans))
	for i, at := range r.at {
		if at == needed {
			start := len(r.buf)
			r.buf = appendSpanRef(r.buf, p.SpanAt(i))
			r.at[i] = uint64(start)<<32 | uint64(len(r.buf))
		}
	}
	return r
}

func (r *spanRefs) append(b []byte, i int, s *model.Span) []byte {
	if at := r.at[i]; at != 0 {
		return append(b, r.buf[at>>32:uint32(at)]...)
	}
	start := len(r.buf)
	r.buf = appendSpanRef(r.buf, s)
	r.at[i] = uint64(start)<<32 | uint64(len(r.buf))
	return append(b, r.buf[start:]...)
}

// appendSpanRef writes a spanRef's fields after an opening brace, without the closing one.
func appendSpanRef(b []byte, s *model.Span) []byte {
	b = append(b, `{"spanID":"`...)
	b = hex.AppendEncode(b, s.SpanID[:])
	b = append(b, `","service":`...)
	b = appendString(b, s.Service())
	b = append(b, `,"name":`...)
	return appendString(b, s.Name)
}

func appendHex16(b []byte, u uint64) []byte {
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], u)
	return hex.AppendEncode(b, be[:])
}

// appendString writes s as a JSON string as encoding/json does (HTML characters escaped too); strings of plain
// printable ASCII, nearly all of them, are copied as they are.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendMicros writes ns nanoseconds as microseconds, as encoding/json writes usDur(ns): below 10^15 the quotient
// has at most 15 significant digits, which a float64 tells apart, so its shortest form is the decimal itself
// (1500 → 1.5) and is written without formatting a float; larger values take appendFloat.
func appendMicros(b []byte, ns int64) []byte {
	if ns <= -1e15 || ns >= 1e15 {
		return appendFloat(b, usDur(ns))
	}
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1000, 10)
	if frac := ns % 1000; frac != 0 {
		b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// appendFloat writes f as encoding/json writes a float64.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, "null"...) // encoding/json would fail; usDur of an int64 is always finite
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
