package jaeger

import (
	"bytes"
	"encoding/hex"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/weftrace/weft/model"
)

// The JSON shapes of Jaeger's query service (model/json in Jaeger), which Jaeger UI and Grafana read.

// Trace is one trace as Jaeger's /api/traces answers it.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

// Span is one span in Jaeger's JSON.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	Flags         uint32      `json:"flags,omitempty"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"` // Unix microseconds
	Duration      int64       `json:"duration"`  // microseconds
	Tags          []KeyValue  `json:"tags"`
	Logs          []Log       `json:"logs"`
	ProcessID     string      `json:"processID"`
	Warnings      []string    `json:"warnings"`
}

// Reference is a CHILD_OF or FOLLOWS_FROM reference to another span.
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Process is the service and tags of the process that produced spans.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// Log is a timestamped set of fields (an OpenTelemetry span event).
type Log struct {
	Timestamp int64      `json:"timestamp"` // Unix microseconds
	Fields    []KeyValue `json:"fields"`
}

// KeyValue is a typed tag: type is string, bool, int64, float64 or binary (value base64).
type KeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Operation is an entry of /api/operations.
type Operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// DependencyLink is an edge of /api/dependencies.
type DependencyLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount int64  `json:"callCount"`
}

// traceIDText is Jaeger's form: 16 hex digits for a 64-bit ID, 32 for a 128-bit one.
func traceIDText(id model.TraceID) string {
	if id[0]|id[1]|id[2]|id[3]|id[4]|id[5]|id[6]|id[7] == 0 {
		return hex.EncodeToString(id[8:])
	}
	return id.String()
}

// EncodeTrace converts the spans of one trace into Jaeger's JSON, spans ordered by start time. Resources with equal
// contents share one process ("p1", "p2", ... in order of first use). A Zipkin server span that shares its ID with
// the client span gets a fresh ID and a CHILD_OF reference to the client, as Jaeger's own deduplication does, and
// its children follow it.
func EncodeTrace(id model.TraceID, spans []*model.Span) Trace {
	sorted := append([]*model.Span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Start != sorted[j].Start {
			return sorted[i].Start < sorted[j].Start
		}
		return bytes.Compare(sorted[i].SpanID[:], sorted[j].SpanID[:]) < 0
	})
	ids, parents := dedupeSharedIDs(sorted)
	t := Trace{TraceID: traceIDText(id), Spans: make([]Span, 0, len(sorted)), Processes: map[string]Process{}}
	procs := map[string]string{}          // process key → process ID
	byPtr := map[*model.Resource]string{} // the spans of one batch share a *Resource
	for i, s := range sorted {
		pid, ok := byPtr[s.Resource]
		if !ok {
			key := processKey(s.Resource)
			if pid, ok = procs[key]; !ok {
				pid = "p" + strconv.Itoa(len(procs)+1)
				procs[key] = pid
			}
			byPtr[s.Resource] = pid
		}
		if _, ok := t.Processes[pid]; !ok {
			p := Process{Tags: []KeyValue{}}
			if s.Resource != nil {
				p.ServiceName = s.Resource.Service
				p.Tags = keyValues(p.Tags, s.Resource.Attrs)
			}
			t.Processes[pid] = p
		}
		t.Spans = append(t.Spans, encodeSpan(s, ids[i], parents[i], pid))
	}
	return t
}

// dedupeSharedIDs gives each span its Jaeger span ID and parent reference.
func dedupeSharedIDs(spans []*model.Span) (ids []model.SpanID, parents []model.SpanID) {
	ids = make([]model.SpanID, len(spans))
	parents = make([]model.SpanID, len(spans))
	used := make(map[model.SpanID]int, len(spans))
	for i, s := range spans {
		ids[i], parents[i] = s.SpanID, s.ParentID
		used[s.SpanID]++
	}
	renamed := map[model.SpanID]model.SpanID{}
	for i, s := range spans {
		if s.Flags&model.FlagShared == 0 || used[s.SpanID] < 2 {
			continue
		}
		n := s.SpanID
		for {
			n = model.SpanID(incr(n))
			if used[n] == 0 {
				break
			}
		}
		used[n] = 1
		renamed[s.SpanID] = n
		ids[i], parents[i] = n, s.SpanID
	}
	for i, s := range spans {
		if n, ok := renamed[s.ParentID]; ok && s.Flags&model.FlagShared == 0 {
			parents[i] = n
		}
	}
	return ids, parents
}

func incr(id model.SpanID) [8]byte {
	for i := 7; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	if model.SpanID(id).IsZero() {
		id[7] = 1
	}
	return id
}

func processKey(r *model.Resource) string {
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

func encodeSpan(s *model.Span, id, parent model.SpanID, pid string) Span {
	tid := traceIDText(s.TraceID)
	out := Span{
		TraceID:       tid,
		SpanID:        id.String(),
		Flags:         1,
		OperationName: s.Name,
		References:    []Reference{},
		StartTime:     s.Start / 1000,
		Duration:      s.Duration / 1000,
		Tags:          []KeyValue{},
		Logs:          []Log{},
		ProcessID:     pid,
	}
	if !parent.IsZero() {
		out.References = append(out.References, Reference{RefType: "CHILD_OF", TraceID: tid, SpanID: parent.String()})
	}
	for _, l := range s.Links {
		out.References = append(out.References, Reference{RefType: "FOLLOWS_FROM", TraceID: traceIDText(l.TraceID), SpanID: l.SpanID.String()})
	}
	out.Tags = keyValues(out.Tags, s.Attrs)
	if s.Kind != model.KindUnspecified {
		out.Tags = append(out.Tags, str("span.kind", s.Kind.String()))
	}
	switch s.StatusCode {
	case model.StatusError:
		out.Tags = append(out.Tags, KeyValue{Key: "error", Type: "bool", Value: true}, str("otel.status_code", "ERROR"))
	case model.StatusOK:
		out.Tags = append(out.Tags, str("otel.status_code", "OK"))
	}
	if s.StatusMessage != "" {
		out.Tags = append(out.Tags, str("otel.status_description", s.StatusMessage))
	}
	if s.Scope != "" {
		out.Tags = append(out.Tags, str("otel.scope.name", s.Scope))
	}
	if s.ScopeVersion != "" {
		out.Tags = append(out.Tags, str("otel.scope.version", s.ScopeVersion))
	}
	if s.TraceState != "" {
		out.Tags = append(out.Tags, str("w3c.tracestate", s.TraceState))
	}
	if c := s.Causality; !c.IsZero() {
		out.Tags = append(out.Tags, str("weft.unit", unitText(c.Unit)),
			KeyValue{Key: "weft.seq.start", Type: "int64", Value: int64(c.StartSeq)},
			KeyValue{Key: "weft.seq.end", Type: "int64", Value: int64(c.EndSeq)})
		if c.EndUnit != 0 && c.EndUnit != c.Unit {
			out.Tags = append(out.Tags, str("weft.unit.end", unitText(c.EndUnit)))
		}
		if !c.StartCause.IsZero() {
			out.Tags = append(out.Tags, str("weft.cause", causeText(c.StartCause)))
		}
	}
	for _, e := range s.Events {
		l := Log{Timestamp: e.Time / 1000, Fields: []KeyValue{str("event", e.Name)}}
		l.Fields = keyValues(l.Fields, e.Attrs)
		if e.Seq != 0 {
			l.Fields = append(l.Fields, KeyValue{Key: "weft.seq", Type: "int64", Value: int64(e.Seq)})
			if e.Unit != 0 {
				l.Fields = append(l.Fields, str("weft.unit", unitText(e.Unit)))
			}
			if !e.Cause.IsZero() {
				l.Fields = append(l.Fields, str("weft.cause", causeText(e.Cause)))
			}
		}
		out.Logs = append(out.Logs, l)
	}
	return out
}

func str(k, v string) KeyValue { return KeyValue{Key: k, Type: "string", Value: v} }

func unitText(u uint64) string {
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(u)
		u >>= 8
	}
	return hex.EncodeToString(b[:])
}

// causeText is the causal wire format: "<unit>:<seq>", or "<trace>:<unit>:<seq>" for another trace.
func causeText(r model.EventRef) string {
	s := unitText(r.Unit) + ":" + strconv.FormatUint(uint64(r.Seq), 10)
	if !r.TraceID.IsZero() {
		s = r.TraceID.String() + ":" + s
	}
	return s
}

func keyValues(dst []KeyValue, attrs []model.Attr) []KeyValue {
	for _, a := range attrs {
		dst = append(dst, keyValue(a))
	}
	return dst
}

func keyValue(a model.Attr) KeyValue {
	v := a.Value
	switch v.Type {
	case model.TypeBool:
		return KeyValue{Key: a.Key, Type: "bool", Value: v.Bool()}
	case model.TypeInt:
		return KeyValue{Key: a.Key, Type: "int64", Value: v.Int()}
	case model.TypeFloat:
		if f := v.Float(); !math.IsNaN(f) && !math.IsInf(f, 0) { // JSON has no NaN or infinity
			return KeyValue{Key: a.Key, Type: "float64", Value: f}
		}
	case model.TypeBytes:
		return KeyValue{Key: a.Key, Type: "binary", Value: []byte(v.Str)}
	}
	return str(a.Key, v.AsString())
}
