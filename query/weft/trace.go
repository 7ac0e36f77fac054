package weft

import (
	"bytes"
	"encoding/hex"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/weftrace/weft/model"
)

// Trace is the answer of GET /api/weft/v1/traces/{id}: every span with its events and causal fields, the
// resources the spans point into, and the execution units the spans and events ran on. Absolute times are Unix
// nanoseconds as decimal strings (a JSON number cannot hold them exactly in JavaScript); offsets and durations are
// nanosecond numbers.
type Trace struct {
	TraceID    string         `json:"traceID"`
	Start      string         `json:"start"` // earliest span start, Unix ns
	End        string         `json:"end"`   // latest span end, Unix ns
	Duration   int64          `json:"duration"`
	SpanCount  int            `json:"spanCount"`
	ErrorCount int            `json:"errorCount"`
	Services   []ServiceCount `json:"services"`
	Resources  []Resource     `json:"resources"`
	Spans      []Span         `json:"spans"`
	Units      []Unit         `json:"units"`
}

// ServiceCount is how many spans of a trace a service produced.
type ServiceCount struct {
	Service string `json:"service"`
	Spans   int    `json:"spans"`
}

// Resource is a process that produced spans.
type Resource struct {
	Service    string `json:"service"`
	Attributes []Attr `json:"attributes"`
}

// Attr is a typed attribute. Type is string, int64, float64, bool, bytes (value base64), array (value a JSON
// array) or map (value a JSON object).
type Attr struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Span is one span of a Trace.
type Span struct {
	SpanID       string     `json:"spanID"`
	ParentSpanID string     `json:"parentSpanID,omitempty"`
	Name         string     `json:"name"`
	Kind         string     `json:"kind"` // unspecified, internal, server, client, producer, consumer
	Service      string     `json:"service"`
	Resource     int        `json:"resource"` // index into Trace.Resources
	Start        string     `json:"start"`    // Unix ns
	Offset       int64      `json:"offset"`   // ns after Trace.Start
	Duration     int64      `json:"duration"` // ns
	Status       Status     `json:"status"`
	SpanResource string     `json:"spanResource,omitempty"`
	SpanType     string     `json:"spanType,omitempty"`
	Scope        *Scope     `json:"scope,omitempty"`
	Attributes   []Attr     `json:"attributes"`
	Events       []Event    `json:"events"`
	Links        []Link     `json:"links"`
	TraceState   string     `json:"traceState,omitempty"`
	Flags        []string   `json:"flags,omitempty"` // "unitary", "shared"
	Causality    *Causality `json:"causality,omitempty"`
}

// Status is a span's outcome.
type Status struct {
	Code    string `json:"code"` // unset, ok, error
	Message string `json:"message,omitempty"`
}

// Scope is the instrumentation scope that recorded a span.
type Scope struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Event is a span event. Unit and Seq place it on an execution unit (absent for events from foreign clients);
// Cause names the event it waited for.
type Event struct {
	Time       string    `json:"time"`   // Unix ns
	Offset     int64     `json:"offset"` // ns after Trace.Start
	Name       string    `json:"name"`
	Attributes []Attr    `json:"attributes"`
	Unit       string    `json:"unit,omitempty"`
	Seq        uint32    `json:"seq,omitempty"`
	Cause      *EventRef `json:"cause,omitempty"`
}

// EventRef names an event: sequence number Seq on execution unit Unit, in trace TraceID when that is not this
// trace.
type EventRef struct {
	TraceID string `json:"traceID,omitempty"`
	Unit    string `json:"unit"`
	Seq     uint32 `json:"seq"`
}

// Link is a reference to another span.
type Link struct {
	TraceID    string `json:"traceID"`
	SpanID     string `json:"spanID"`
	TraceState string `json:"traceState,omitempty"`
	Attributes []Attr `json:"attributes"`
}

// Causality is a weft span's place in the event DAG.
type Causality struct {
	Unit       string    `json:"unit"`
	StartSeq   uint32    `json:"startSeq"`
	EndUnit    string    `json:"endUnit,omitempty"`
	EndSeq     uint32    `json:"endSeq"`
	StartCause *EventRef `json:"startCause,omitempty"`
}

// Unit is an execution unit seen in the trace: the spans that started on it (in order of their start events) and
// the range of sequence numbers seen on it.
type Unit struct {
	Unit    string   `json:"unit"`
	Service string   `json:"service"`
	Spans   []string `json:"spans"`
	Events  int      `json:"events"` // span starts, span ends and span events placed on this unit
	MinSeq  uint32   `json:"minSeq"`
	MaxSeq  uint32   `json:"maxSeq"`
}

func unitText(u uint64) string {
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(u)
		u >>= 8
	}
	return hex.EncodeToString(b[:])
}

func nsText(ns int64) string { return strconv.FormatInt(ns, 10) }

func eventRef(r model.EventRef) *EventRef {
	if r.IsZero() {
		return nil
	}
	e := &EventRef{Unit: unitText(r.Unit), Seq: r.Seq}
	if !r.TraceID.IsZero() {
		e.TraceID = r.TraceID.String()
	}
	return e
}

// sortSpans orders spans by start time, then span ID, without touching the store's slice.
func sortSpans(spans []*model.Span) []*model.Span {
	sorted := append([]*model.Span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Start != sorted[j].Start {
			return sorted[i].Start < sorted[j].Start
		}
		return bytes.Compare(sorted[i].SpanID[:], sorted[j].SpanID[:]) < 0
	})
	return sorted
}

// resources numbers distinct resources in order of first use: by pointer first (the spans of one batch share a
// *Resource), then by content (equal resources from other batches get the same number).
type resources struct {
	byPtr map[*model.Resource]int
	byKey map[string]int
}

func newResources() *resources {
	return &resources{byPtr: map[*model.Resource]int{}, byKey: map[string]int{}}
}

// index returns r's number, and whether r is the first of its content.
func (rs *resources) index(r *model.Resource) (i int, isNew bool) {
	if i, ok := rs.byPtr[r]; ok {
		return i, false
	}
	key := resourceKey(r)
	i, ok := rs.byKey[key]
	if !ok {
		i, isNew = len(rs.byKey), true
		rs.byKey[key] = i
	}
	rs.byPtr[r] = i
	return i, isNew
}

// resourceKey identifies a resource by content, so that equal resources decoded from different batches are one.
func resourceKey(r *model.Resource) string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(strconv.Quote(r.Service))
	for _, a := range r.Attrs {
		b.WriteString(strconv.Quote(a.Key))
		b.WriteString(a.Value.Type.String())
		b.WriteString(strconv.Quote(a.Value.AsString()))
	}
	return b.String()
}

// EncodeTrace builds the weft JSON of one trace.
func EncodeTrace(id model.TraceID, spans []*model.Span) Trace {
	sorted := sortSpans(spans)
	t := Trace{TraceID: id.String(), SpanCount: len(sorted), Services: []ServiceCount{}, Resources: []Resource{},
		Spans: make([]Span, 0, len(sorted)), Units: []Unit{}}
	if len(sorted) == 0 {
		return t
	}
	start, end := sorted[0].Start, sorted[0].End()
	for _, s := range sorted {
		end = max(end, s.End())
	}
	t.Start, t.End, t.Duration = nsText(start), nsText(end), end-start

	rs := newResources()
	services := map[string]int{}
	units := map[uint64]*Unit{}
	var unitOrder []uint64
	unit := func(u uint64, svc string, seq uint32) *Unit {
		x := units[u]
		if x == nil {
			x = &Unit{Unit: unitText(u), Service: svc, Spans: []string{}, MinSeq: seq, MaxSeq: seq}
			units[u] = x
			unitOrder = append(unitOrder, u)
		}
		x.Events++
		x.MinSeq, x.MaxSeq = min(x.MinSeq, seq), max(x.MaxSeq, seq)
		return x
	}
	type started struct {
		seq uint32
		id  string
	}
	startsOn := map[uint64][]started{}

	for _, s := range sorted {
		ri, isNew := rs.index(s.Resource)
		if isNew {
			r := Resource{Attributes: []Attr{}}
			if s.Resource != nil {
				r.Service, r.Attributes = s.Resource.Service, attrs(s.Resource.Attrs)
			}
			t.Resources = append(t.Resources, r)
		}
		services[s.Service()]++
		if s.IsError() {
			t.ErrorCount++
		}
		sp := Span{
			SpanID:       s.SpanID.String(),
			Name:         s.Name,
			Kind:         s.Kind.String(),
			Service:      s.Service(),
			Resource:     ri,
			Start:        nsText(s.Start),
			Offset:       s.Start - start,
			Duration:     s.Duration,
			Status:       Status{Code: s.StatusCode.String(), Message: s.StatusMessage},
			SpanResource: s.SpanResource,
			SpanType:     s.SpanType,
			Attributes:   attrs(s.Attrs),
			Events:       make([]Event, 0, len(s.Events)),
			Links:        make([]Link, 0, len(s.Links)),
			TraceState:   s.TraceState,
		}
		if !s.ParentID.IsZero() {
			sp.ParentSpanID = s.ParentID.String()
		}
		if s.Scope != "" || s.ScopeVersion != "" {
			sp.Scope = &Scope{Name: s.Scope, Version: s.ScopeVersion}
		}
		if s.Flags&model.FlagUnitary != 0 {
			sp.Flags = append(sp.Flags, "unitary")
		}
		if s.Flags&model.FlagShared != 0 {
			sp.Flags = append(sp.Flags, "shared")
		}
		c := s.Causality
		if !c.IsZero() {
			sp.Causality = &Causality{Unit: unitText(c.Unit), StartSeq: c.StartSeq, EndSeq: c.EndSeq, StartCause: eventRef(c.StartCause)}
			unit(c.Unit, s.Service(), c.StartSeq)
			startsOn[c.Unit] = append(startsOn[c.Unit], started{c.StartSeq, sp.SpanID})
			endUnit := c.Unit
			if c.EndUnit != 0 && c.EndUnit != c.Unit {
				sp.Causality.EndUnit = unitText(c.EndUnit)
				endUnit = c.EndUnit
			}
			unit(endUnit, s.Service(), c.EndSeq)
		}
		for _, e := range s.Events {
			ev := Event{Time: nsText(e.Time), Offset: e.Time - start, Name: e.Name, Attributes: attrs(e.Attrs)}
			if e.Seq != 0 {
				u := e.Unit
				if u == 0 {
					u = c.Unit
				}
				if u != 0 {
					ev.Unit, ev.Seq = unitText(u), e.Seq
					unit(u, s.Service(), e.Seq)
				}
				ev.Cause = eventRef(e.Cause)
			}
			sp.Events = append(sp.Events, ev)
		}
		for _, l := range s.Links {
			sp.Links = append(sp.Links, Link{TraceID: l.TraceID.String(), SpanID: l.SpanID.String(), TraceState: l.TraceState, Attributes: attrs(l.Attrs)})
		}
		t.Spans = append(t.Spans, sp)
	}
	for svc, n := range services {
		t.Services = append(t.Services, ServiceCount{Service: svc, Spans: n})
	}
	sort.Slice(t.Services, func(i, j int) bool { return t.Services[i].Service < t.Services[j].Service })
	for _, u := range unitOrder {
		x := units[u]
		st := startsOn[u]
		sort.SliceStable(st, func(i, j int) bool { return st[i].seq < st[j].seq })
		for _, s := range st {
			x.Spans = append(x.Spans, s.id)
		}
		t.Units = append(t.Units, *x)
	}
	return t
}

func attrs(as []model.Attr) []Attr {
	out := make([]Attr, len(as))
	for i, a := range as {
		out[i] = Attr{Key: a.Key, Type: typeName(a.Value.Type), Value: jsonValue(a.Value)}
	}
	return out
}

func typeName(t model.Type) string {
	if t == model.TypeBytes {
		return "bytes"
	}
	return t.String()
}

// jsonValue is a value as plain JSON: strings, numbers, booleans, base64 bytes, arrays and objects. A float that
// JSON cannot hold (NaN, infinities) becomes its text.
func jsonValue(v model.Value) any {
	switch v.Type {
	case model.TypeString:
		return v.Str
	case model.TypeInt:
		return v.Int()
	case model.TypeFloat:
		if f := v.Float(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
		return v.AsString()
	case model.TypeBool:
		return v.Bool()
	case model.TypeBytes:
		return []byte(v.Str)
	case model.TypeArray:
		out := make([]any, len(v.Array))
		for i, e := range v.Array {
			out[i] = jsonValue(e)
		}
		return out
	case model.TypeMap:
		out := make(map[string]any, len(v.Map))
		for _, a := range v.Map {
			out[a.Key] = jsonValue(a.Value)
		}
		return out
	}
	return nil
}
