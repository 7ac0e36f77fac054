// Package stdout is the library's debugging exporter: it writes each ended span as one line of readable JSON to
// standard output (or any io.Writer). It sits at the end of the library's flow, behind the core's batcher.
//
// Attributes keep their types (numbers stay numbers); the span's place in weft's event DAG appears as the
// weft.* attributes of docs/causality.md, on the span and on its events, exactly as OTLP carries them.
package stdout

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/weftrace/weft/trace"
)

// Exporter writes spans as JSON lines. It implements trace.Exporter.
type Exporter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

var _ trace.Exporter = (*Exporter)(nil)

// New makes an Exporter writing to w; nil means os.Stdout.
func New(w io.Writer) *Exporter {
	if w == nil {
		w = os.Stdout
	}
	return &Exporter{w: bufio.NewWriter(w)}
}

// ExportSpans writes one line per span.
func (e *Exporter) ExportSpans(_ context.Context, spans []*trace.SpanData) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	enc := json.NewEncoder(e.w)
	enc.SetEscapeHTML(false)
	for _, d := range spans {
		if err := enc.Encode(FromSpanData(d)); err != nil {
			return err
		}
	}
	return e.w.Flush()
}

// Shutdown flushes what is buffered.
func (e *Exporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.w.Flush()
}

// Span is the JSON form of one span, as a line of output.
type Span struct {
	Time          time.Time      `json:"time"`
	TraceID       string         `json:"trace_id"`
	SpanID        string         `json:"span_id"`
	ParentID      string         `json:"parent_id,omitempty"`
	Name          string         `json:"name"`
	Kind          string         `json:"kind"`
	Service       string         `json:"service"`
	Scope         string         `json:"scope,omitempty"`
	Resource      string         `json:"resource,omitempty"`
	Type          string         `json:"type,omitempty"`
	Duration      string         `json:"duration"`
	Status        string         `json:"status,omitempty"`
	StatusMessage string         `json:"status_message,omitempty"`
	Sampled       bool           `json:"sampled"`
	Attrs         map[string]any `json:"attrs,omitempty"`
	Events        []Event        `json:"events,omitempty"`
	Links         []Link         `json:"links,omitempty"`
}

// Event is the JSON form of a span event.
type Event struct {
	Time  time.Time      `json:"time"`
	Name  string         `json:"name"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Link is the JSON form of a link.
type Link struct {
	TraceID string         `json:"trace_id"`
	SpanID  string         `json:"span_id"`
	Attrs   map[string]any `json:"attrs,omitempty"`
}

// FromSpanData converts one ended span to its JSON form.
func FromSpanData(d *trace.SpanData) Span {
	s := Span{
		Time:          time.Unix(0, d.Start).UTC(),
		TraceID:       d.TraceID.String(),
		SpanID:        d.SpanID.String(),
		Name:          d.Name,
		Kind:          d.Kind.String(),
		Service:       d.ServiceName(),
		Scope:         d.Scope,
		Resource:      d.SpanResource,
		Type:          d.SpanType,
		Duration:      time.Duration(d.Duration()).String(),
		StatusMessage: d.StatusMessage,
		Sampled:       d.Flags&trace.FlagSampled != 0,
	}
	if d.ParentID.IsValid() {
		s.ParentID = d.ParentID.String()
	}
	if d.StatusCode != trace.StatusUnset {
		s.Status = d.StatusCode.String()
	}
	s.Attrs = attrMap(d.AppendWeftAttrs(d.Attrs[:len(d.Attrs):len(d.Attrs)]))
	for i := range d.Events {
		e := &d.Events[i]
		s.Events = append(s.Events, Event{
			Time:  time.Unix(0, e.Time).UTC(),
			Name:  e.Name,
			Attrs: attrMap(e.AppendWeftAttrs(e.Attrs[:len(e.Attrs):len(e.Attrs)], d.Unit, d.TraceID)),
		})
	}
	for _, l := range d.Links {
		s.Links = append(s.Links, Link{TraceID: l.SpanContext.TraceID.String(), SpanID: l.SpanContext.SpanID.String(), Attrs: attrMap(l.Attrs)})
	}
	return s
}

func attrMap(attrs []trace.Attr) map[string]any {
	if len(attrs) == 0 {
		return nil
	}
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		m[a.Key] = jsonValue(a.Value)
	}
	return m
}

// jsonValue keeps a value's type in JSON; a float JSON cannot hold (NaN, infinity) becomes its text.
func jsonValue(v trace.Value) any {
	switch v.Type() {
	case trace.TypeString:
		return v.AsString()
	case trace.TypeInt64:
		return v.AsInt64()
	case trace.TypeFloat64:
		if f := v.AsFloat64(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	case trace.TypeBool:
		return v.AsBool()
	case trace.TypeStrings:
		return v.AsStrings()
	case trace.TypeInt64s:
		return v.AsInt64s()
	case trace.TypeBools:
		return v.AsBools()
	case trace.TypeFloat64s:
		for _, f := range v.AsFloat64s() {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return v.String()
			}
		}
		return v.AsFloat64s()
	}
	return v.String()
}
