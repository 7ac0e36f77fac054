package datadog

import (
	"encoding/json"
	"math"

	"github.com/weftrace/weft/model"
)

// Tracers that cannot send span_events and span_links natively (the /v0.5 format has no place for them, and
// older agents do not take them) put them in meta as JSON, under "events" and "_dd.span_links". These decode
// that JSON; a value that does not parse stays an ordinary attribute.
const (
	metaEvents = "events"
	metaLinks  = "_dd.span_links"
)

type jsonEvent struct {
	Name       string         `json:"name"`
	Time       int64          `json:"time_unix_nano"`
	Attributes map[string]any `json:"attributes"`
}

type jsonLink struct {
	TraceID    string            `json:"trace_id"`
	SpanID     string            `json:"span_id"`
	Tracestate string            `json:"tracestate"`
	Attributes map[string]string `json:"attributes"`
}

// metaEventsJSON decodes meta "events"; ok is false when the value is not such JSON.
func metaEventsJSON(v string) (events []model.Event, ok bool) {
	if len(v) == 0 || v[0] != '[' {
		return nil, false
	}
	var in []jsonEvent
	if json.Unmarshal([]byte(v), &in) != nil {
		return nil, false
	}
	events = make([]model.Event, 0, len(in))
	for _, e := range in {
		if e.Name == "" || e.Time < 0 {
			return nil, false
		}
		ev := model.Event{Name: e.Name, Time: e.Time}
		for _, k := range sortedKeys(nil, e.Attributes) {
			if val, ok := jsonValue(e.Attributes[k], 0); ok {
				ev.Attrs = append(ev.Attrs, model.Attr{Key: k, Value: val})
			}
		}
		events = append(events, ev)
	}
	return events, true
}

// jsonValue converts a decoded JSON attribute value; whole numbers become ints, as tracers wrote them.
func jsonValue(v any, depth int) (model.Value, bool) {
	switch x := v.(type) {
	case string:
		return model.String(x), true
	case bool:
		return model.Bool(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return model.Int(int64(x)), true
		}
		return model.Float(x), true
	case []any:
		if depth > 0 {
			return model.Value{}, false
		}
		arr := make([]model.Value, 0, len(x))
		for _, e := range x {
			if ev, ok := jsonValue(e, 1); ok {
				arr = append(arr, ev)
			}
		}
		return model.Array(arr...), true
	}
	return model.Value{}, false
}

// metaLinksJSON decodes meta "_dd.span_links", whose IDs are hex strings; ok is false when the value is not such
// JSON.
func metaLinksJSON(v string) (links []model.Link, ok bool) {
	if len(v) == 0 || v[0] != '[' {
		return nil, false
	}
	var in []jsonLink
	if json.Unmarshal([]byte(v), &in) != nil {
		return nil, false
	}
	links = make([]model.Link, 0, len(in))
	for _, l := range in {
		tid, err1 := model.ParseTraceID(l.TraceID)
		sid, err2 := model.ParseSpanID(l.SpanID)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		ml := model.Link{TraceID: tid, SpanID: sid, TraceState: l.Tracestate}
		for _, k := range sortedKeys(nil, l.Attributes) {
			ml.Attrs = append(ml.Attrs, model.Attr{Key: k, Value: model.String(l.Attributes[k])})
		}
		links = append(links, ml)
	}
	return links, true
}
