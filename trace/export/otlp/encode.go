// Package otlp encodes the library's ended spans (trace.SpanData) as OTLP protobuf: an
// ExportTraceServiceRequest, the body that OTLP/HTTP posts to /v1/traces and OTLP/gRPC sends to
// TraceService/Export. It is written by hand so that the library needs no protobuf module, and it makes one pass
// over the spans without allocating.
//
// It sits between the core package trace, whose batcher hands over batches of spans, and the exporters that
// send the bytes (trace/export/otlphttp, and trace/export/otlpgrpc in its own module).
//
// Spans are grouped by resource (the Provider's resource, with service.name replaced by a span's own service
// when it sets one) and then by instrumentation scope. Besides its attributes, a span's Datadog-style fields are
// written as the span attributes resource.name and span.type, and its place in weft's event DAG as the attributes
// docs/causality.md defines: weft.unit, weft.seq.start, weft.seq.end, weft.unit.end, weft.cause and weft.unitary,
// and weft.seq, weft.unit and weft.cause on its events.
package otlp

import (
	"github.com/weftrace/weft/trace"
)

// Field numbers of the OTLP messages written here (opentelemetry/proto/trace/v1/trace.proto and
// common/v1/common.proto).
const (
	fieldRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	fieldResourceSpansResource = 1
	fieldResourceSpansScope    = 2

	fieldResourceAttributes = 1

	fieldScopeSpansScope = 1
	fieldScopeSpansSpans = 2
	fieldScopeName       = 1

	fieldSpanTraceID       = 1
	fieldSpanSpanID        = 2
	fieldSpanTraceState    = 3
	fieldSpanParentSpanID  = 4
	fieldSpanName          = 5
	fieldSpanKind          = 6
	fieldSpanStart         = 7
	fieldSpanEnd           = 8
	fieldSpanAttributes    = 9
	fieldSpanDroppedAttrs  = 10
	fieldSpanEvents        = 11
	fieldSpanDroppedEvents = 12
	fieldSpanLinks         = 13
	fieldSpanDroppedLinks  = 14
	fieldSpanStatus        = 15
	fieldSpanFlags         = 16

	fieldEventTime       = 1
	fieldEventName       = 2
	fieldEventAttributes = 3

	fieldLinkTraceID    = 1
	fieldLinkSpanID     = 2
	fieldLinkTraceState = 3
	fieldLinkAttributes = 4
	fieldLinkFlags      = 6

	fieldStatusMessage = 2
	fieldStatusCode    = 3

	fieldKeyValueKey   = 1
	fieldKeyValueValue = 2

	fieldAnyString = 1
	fieldAnyBool   = 2
	fieldAnyInt    = 3
	fieldAnyDouble = 4
	fieldAnyArray  = 5

	fieldArrayValues = 1
)

// The span attributes that carry a span's Datadog-style fields (trace.SpanData.SpanResource and SpanType), the
// names Datadog's own OTLP mapping reads.
const (
	AttrResourceName = "resource.name"
	AttrSpanType     = "span.type"
	// AttrServiceName is the resource attribute holding the service.
	AttrServiceName = "service.name"
)

const unknownService = "unknown_service"

// resourceKey identifies the resource a span is exported under.
type resourceKey struct {
	res     *trace.Resource
	service string
}

// group is the spans of one resource and one instrumentation scope.
type group struct {
	res   resourceKey
	scope string
}

func resourceOf(d *trace.SpanData) resourceKey {
	return resourceKey{d.Resource, d.ServiceName()}
}

// AppendRequest appends to b an ExportTraceServiceRequest holding spans, grouped by resource and scope, and
// returns the extended buffer. It reads the spans and keeps nothing of them.
func AppendRequest(b []byte, spans []*trace.SpanData) []byte {
	var stack [8]group
	p := split(stack[:0], spans)
	for i, g := range p.groups {
		if resourceDone(p.groups[:i], g.res) {
			continue
		}
		var rs int
		b, rs = beginMessage(b, fieldRequestResourceSpans)
		b = appendResource(b, g.res)
		for k := i; k < len(p.groups); k++ {
			sg := p.groups[k]
			if sg.res != g.res {
				continue
			}
			var ss int
			b, ss = beginMessage(b, fieldResourceSpansScope)
			if sg.scope != "" {
				var sc int
				b, sc = beginMessage(b, fieldScopeSpansScope)
				b = appendStringField(b, fieldScopeName, sg.scope)
				b = endMessage(b, sc)
			}
			if p.order == nil {
				for _, d := range spans {
					if d.Scope == sg.scope && resourceOf(d) == sg.res {
						b = appendSpan(b, d)
					}
				}
			} else {
				for _, j := range p.order[p.start[k]:p.start[k+1]] {
					b = appendSpan(b, spans[j])
				}
			}
			b = endMessage(b, ss)
		}
		b = endMessage(b, rs)
	}
	return b
}

// partition is a batch's distinct (resource, scope) groups in the order first seen. A batch from one Provider
// has one resource and a few scopes: those are found by a scan of a small array, and each group's spans by a
// scan of the batch, allocating nothing. A batch with more groups than the array holds is sorted by group
// instead, so that the work stays linear.
type partition struct {
	groups []group
	order  []int32 // span indexes ordered by group, when the batch has many groups
	start  []int32 // order[start[k]:start[k+1]] are the spans of group k
}

// split partitions spans, using groups (empty, with capacity) for the first few groups.
func split(groups []group, spans []*trace.SpanData) partition {
	for _, d := range spans {
		g := group{resourceOf(d), d.Scope}
		seen := false
		for _, x := range groups {
			if x == g {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		if len(groups) == cap(groups) {
			return sortByGroup(spans)
		}
		groups = append(groups, g)
	}
	return partition{groups: groups}
}

// sortByGroup partitions spans with a map and counting-sorts them by group.
func sortByGroup(spans []*trace.SpanData) partition {
	var p partition
	index := make(map[group]int32)
	member := make([]int32, len(spans))
	for j, d := range spans {
		g := group{resourceOf(d), d.Scope}
		k, ok := index[g]
		if !ok {
			k = int32(len(p.groups))
			index[g] = k
			p.groups = append(p.groups, g)
		}
		member[j] = k
	}
	p.start = make([]int32, len(p.groups)+1)
	for _, k := range member {
		p.start[k+1]++
	}
	for k := 1; k < len(p.start); k++ {
		p.start[k] += p.start[k-1]
	}
	p.order = make([]int32, len(spans))
	next := append([]int32(nil), p.start[:len(p.groups)]...)
	for j, k := range member {
		p.order[next[k]] = int32(j)
		next[k]++
	}
	return p
}

// resourceDone reports whether r was already written, as the resource of one of the groups before.
func resourceDone(before []group, r resourceKey) bool {
	for _, g := range before {
		if g.res == r {
			return true
		}
	}
	return false
}

func appendResource(b []byte, r resourceKey) []byte {
	var m int
	b, m = beginMessage(b, fieldResourceSpansResource)
	service := r.service
	if service == "" {
		service = unknownService
	}
	b = appendKeyValueString(b, fieldResourceAttributes, AttrServiceName, service)
	if r.res != nil {
		for _, a := range r.res.Attrs {
			if a.Key != AttrServiceName {
				b = appendKeyValue(b, fieldResourceAttributes, a)
			}
		}
	}
	return endMessage(b, m)
}

// AppendSpan appends one span as an OTLP Span message (with its field tag, as ScopeSpans.spans). It is exported
// for encoders that build their own envelope.
func AppendSpan(b []byte, d *trace.SpanData) []byte { return appendSpan(b, d) }

func appendSpan(b []byte, d *trace.SpanData) []byte {
	var m int
	b, m = beginMessage(b, fieldScopeSpansSpans)
	b = appendBytesField(b, fieldSpanTraceID, d.TraceID[:])
	b = appendBytesField(b, fieldSpanSpanID, d.SpanID[:])
	if d.TraceState != "" {
		b = appendStringField(b, fieldSpanTraceState, d.TraceState)
	}
	if d.ParentID.IsValid() {
		b = appendBytesField(b, fieldSpanParentSpanID, d.ParentID[:])
	}
	b = appendStringField(b, fieldSpanName, d.Name)
	if d.Kind != trace.KindUnspecified {
		b = appendUvarintField(b, fieldSpanKind, uint64(d.Kind))
	}
	b = appendFixed64Field(b, fieldSpanStart, uint64(d.Start))
	b = appendFixed64Field(b, fieldSpanEnd, uint64(d.End))
	for _, a := range d.Attrs {
		b = appendKeyValue(b, fieldSpanAttributes, a)
	}
	if d.SpanResource != "" {
		b = appendKeyValueString(b, fieldSpanAttributes, AttrResourceName, d.SpanResource)
	}
	if d.SpanType != "" {
		b = appendKeyValueString(b, fieldSpanAttributes, AttrSpanType, d.SpanType)
	}
	b = appendSpanCausality(b, d)
	if d.DroppedAttrs > 0 {
		b = appendUvarintField(b, fieldSpanDroppedAttrs, uint64(d.DroppedAttrs))
	}
	for i := range d.Events {
		b = appendEvent(b, &d.Events[i], d)
	}
	if d.DroppedEvents > 0 {
		b = appendUvarintField(b, fieldSpanDroppedEvents, uint64(d.DroppedEvents))
	}
	for i := range d.Links {
		b = appendLink(b, &d.Links[i])
	}
	if d.DroppedLinks > 0 {
		b = appendUvarintField(b, fieldSpanDroppedLinks, uint64(d.DroppedLinks))
	}
	if d.StatusCode != trace.StatusUnset || d.StatusMessage != "" {
		var s int
		b, s = beginMessage(b, fieldSpanStatus)
		if d.StatusMessage != "" {
			b = appendStringField(b, fieldStatusMessage, d.StatusMessage)
		}
		if d.StatusCode != trace.StatusUnset {
			b = appendUvarintField(b, fieldStatusCode, uint64(d.StatusCode))
		}
		b = endMessage(b, s)
	}
	if d.Flags != 0 {
		b = appendFixed32Field(b, fieldSpanFlags, uint32(d.Flags))
	}
	return endMessage(b, m)
}

// appendSpanCausality writes the weft.* span attributes of docs/causality.md, straight into the buffer.
func appendSpanCausality(b []byte, d *trace.SpanData) []byte {
	if d.Unit == 0 {
		return b
	}
	b = appendKeyValueUnit(b, fieldSpanAttributes, trace.AttrUnit, d.Unit)
	b = appendKeyValueInt(b, fieldSpanAttributes, trace.AttrSeqStart, int64(d.StartSeq))
	b = appendKeyValueInt(b, fieldSpanAttributes, trace.AttrSeqEnd, int64(d.EndSeq))
	if d.EndUnit != 0 && d.EndUnit != d.Unit {
		b = appendKeyValueUnit(b, fieldSpanAttributes, trace.AttrUnitEnd, d.EndUnit)
	}
	if d.StartCause.IsValid() {
		b = appendKeyValueCause(b, fieldSpanAttributes, d.StartCause, d.TraceID)
	}
	if d.Unitary {
		b = appendKeyValue(b, fieldSpanAttributes, trace.Bool(trace.AttrUnitary, true))
	}
	return b
}

func appendEvent(b []byte, e *trace.Event, d *trace.SpanData) []byte {
	var m int
	b, m = beginMessage(b, fieldSpanEvents)
	b = appendFixed64Field(b, fieldEventTime, uint64(e.Time))
	b = appendStringField(b, fieldEventName, e.Name)
	for _, a := range e.Attrs {
		b = appendKeyValue(b, fieldEventAttributes, a)
	}
	if e.Seq != 0 {
		b = appendKeyValueInt(b, fieldEventAttributes, trace.AttrSeq, int64(e.Seq))
		if e.Unit != 0 && e.Unit != d.Unit {
			b = appendKeyValueUnit(b, fieldEventAttributes, trace.AttrUnit, e.Unit)
		}
		if e.Cause.IsValid() {
			b = appendKeyValueCause(b, fieldEventAttributes, e.Cause, d.TraceID)
		}
	}
	return endMessage(b, m)
}

func appendLink(b []byte, l *trace.Link) []byte {
	var m int
	b, m = beginMessage(b, fieldSpanLinks)
	b = appendBytesField(b, fieldLinkTraceID, l.SpanContext.TraceID[:])
	b = appendBytesField(b, fieldLinkSpanID, l.SpanContext.SpanID[:])
	if l.SpanContext.TraceState != "" {
		b = appendStringField(b, fieldLinkTraceState, l.SpanContext.TraceState)
	}
	for _, a := range l.Attrs {
		b = appendKeyValue(b, fieldLinkAttributes, a)
	}
	if l.SpanContext.Flags != 0 {
		b = appendFixed32Field(b, fieldLinkFlags, uint32(l.SpanContext.Flags))
	}
	return endMessage(b, m)
}

// appendKeyValueString writes a string KeyValue with its lengths computed up front, the common case.
func appendKeyValueString(b []byte, field int, key, value string) []byte {
	anyLen := 1 + varintLen(uint64(len(value))) + len(value)
	kvLen := 1 + varintLen(uint64(len(key))) + len(key) + 1 + varintLen(uint64(anyLen)) + anyLen
	b = appendTag(b, field, wireBytes)
	b = appendVarint(b, uint64(kvLen))
	b = appendStringField(b, fieldKeyValueKey, key)
	b = appendTag(b, fieldKeyValueValue, wireBytes)
	b = appendVarint(b, uint64(anyLen))
	return appendStringField(b, fieldAnyString, value)
}

func appendKeyValueInt(b []byte, field int, key string, v int64) []byte {
	anyLen := 1 + varintLen(uint64(v))
	kvLen := 1 + varintLen(uint64(len(key))) + len(key) + 1 + varintLen(uint64(anyLen)) + anyLen
	b = appendTag(b, field, wireBytes)
	b = appendVarint(b, uint64(kvLen))
	b = appendStringField(b, fieldKeyValueKey, key)
	b = appendTag(b, fieldKeyValueValue, wireBytes)
	b = appendVarint(b, uint64(anyLen))
	return appendUvarintField(b, fieldAnyInt, uint64(v))
}

// appendKeyValueUnit writes a unit ID as the string of 16 hex digits docs/causality.md asks for.
func appendKeyValueUnit(b []byte, field int, key string, unit uint64) []byte {
	const anyLen = 1 + 1 + 16
	kvLen := 1 + varintLen(uint64(len(key))) + len(key) + 1 + 1 + anyLen
	b = appendTag(b, field, wireBytes)
	b = appendVarint(b, uint64(kvLen))
	b = appendStringField(b, fieldKeyValueKey, key)
	b = appendTag(b, fieldKeyValueValue, wireBytes)
	b = append(b, anyLen)
	b = appendTag(b, fieldAnyString, wireBytes)
	b = append(b, 16)
	return trace.AppendUnit(b, unit)
}

// appendKeyValueCause writes weft.cause, "<unit>:<seq>" or "<traceid>:<unit>:<seq>".
func appendKeyValueCause(b []byte, field int, r trace.EventRef, own trace.TraceID) []byte {
	var m, v int
	b, m = beginMessage(b, field)
	b = appendStringField(b, fieldKeyValueKey, trace.AttrCause)
	b, v = beginMessage(b, fieldKeyValueValue)
	b = appendTag(b, fieldAnyString, wireBytes)
	s := len(b)
	b = append(b, 0)
	b = r.AppendText(b, own)
	b[s] = byte(len(b) - s - 1) // at most 32+1+16+1+10 bytes: one length byte
	b = endMessage(b, v)
	return endMessage(b, m)
}

func appendKeyValue(b []byte, field int, a trace.Attr) []byte {
	if a.Value.Type() == trace.TypeString {
		return appendKeyValueString(b, field, a.Key, a.Value.AsString())
	}
	var m, v int
	b, m = beginMessage(b, field)
	b = appendStringField(b, fieldKeyValueKey, a.Key)
	b, v = beginMessage(b, fieldKeyValueValue)
	b = appendAnyValueBody(b, a.Value)
	b = endMessage(b, v)
	return endMessage(b, m)
}

// appendAnyValueBody writes the fields of an AnyValue (without its own tag and length).
func appendAnyValueBody(b []byte, v trace.Value) []byte {
	switch v.Type() {
	case trace.TypeString:
		return appendStringField(b, fieldAnyString, v.AsString())
	case trace.TypeInt64:
		return appendUvarintField(b, fieldAnyInt, uint64(v.AsInt64()))
	case trace.TypeFloat64:
		return appendDoubleField(b, fieldAnyDouble, v.AsFloat64())
	case trace.TypeBool:
		var n uint64
		if v.AsBool() {
			n = 1
		}
		return appendUvarintField(b, fieldAnyBool, n)
	case trace.TypeStrings:
		return appendArray(b, v.AsStrings(), func(b []byte, s string) []byte { return appendStringField(b, fieldAnyString, s) })
	case trace.TypeInt64s:
		return appendArray(b, v.AsInt64s(), func(b []byte, n int64) []byte { return appendUvarintField(b, fieldAnyInt, uint64(n)) })
	case trace.TypeFloat64s:
		return appendArray(b, v.AsFloat64s(), func(b []byte, f float64) []byte { return appendDoubleField(b, fieldAnyDouble, f) })
	case trace.TypeBools:
		return appendArray(b, v.AsBools(), func(b []byte, t bool) []byte {
			var n uint64
			if t {
				n = 1
			}
			return appendUvarintField(b, fieldAnyBool, n)
		})
	}
	return b // empty: an AnyValue with no field set
}

func appendArray[T any](b []byte, xs []T, f func([]byte, T) []byte) []byte {
	var a int
	b, a = beginMessage(b, fieldAnyArray)
	for _, x := range xs {
		var e int
		b, e = beginMessage(b, fieldArrayValues)
		b = f(b, x)
		b = endMessage(b, e)
	}
	return endMessage(b, a)
}
