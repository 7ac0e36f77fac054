package datadog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"

	"github.com/weftrace/weft/model"
)

// jsonSpan is a span of the JSON form of /v0.3/traces (and /v0.4/traces, which the agent also takes as JSON).
type jsonSpan struct {
	Service  string             `json:"service"`
	Name     string             `json:"name"`
	Resource string             `json:"resource"`
	Type     string             `json:"type"`
	TraceID  uint64             `json:"trace_id"`
	SpanID   uint64             `json:"span_id"`
	ParentID uint64             `json:"parent_id"`
	Start    int64              `json:"start"`
	Duration int64              `json:"duration"`
	Error    int32              `json:"error"`
	Meta     map[string]string  `json:"meta"`
	Metrics  map[string]float64 `json:"metrics"`
}

// decodeJSON decodes a JSON array of traces, each an array of spans.
func decodeJSON(body []byte, h header) ([]*model.Span, error) {
	b := newBuilder(h, nil)
	defer b.release(false) // the spans are the caller's
	return b.decodeJSON(body)
}

// decodeJSON is the package's decodeJSON into b's memory.
func (b *builder) decodeJSON(body []byte) ([]*model.Span, error) {
	var traces [][]jsonSpan
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&traces); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return nil, badInput("json: field %q: %s cannot hold %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, badInput("json: payload ends early (truncated)")
		}
		return nil, badInput("json: %v", err)
	}
	if dec.More() {
		return nil, badInput("json: data after the traces")
	}
	var keys []string
	for ti, t := range traces {
		first := len(b.spans)
		for si := range t {
			s := &t[si]
			b.begin()
			// Map order is random in Go; sorted keys keep the attribute order stable from run to run.
			keys = sortedKeys(keys[:0], s.Meta)
			for _, k := range keys {
				b.meta(k, s.Meta[k])
			}
			keys = sortedKeys(keys[:0], s.Metrics)
			for _, k := range keys {
				b.metric(k, s.Metrics[k])
			}
			r := rawSpan{
				service: s.Service, name: s.Name, resource: s.Resource, typ: s.Type,
				traceID: s.TraceID, spanID: s.SpanID, parentID: s.ParentID,
				start: s.Start, duration: s.Duration, err: s.Error,
			}
			if err := b.finish(&r, ti, si); err != nil {
				return nil, err
			}
		}
		b.endTrace(first)
	}
	return b.spans, nil
}

func sortedKeys[V any](dst []string, m map[string]V) []string {
	for k := range m {
		dst = append(dst, k)
	}
	sort.Strings(dst)
	return dst
}
