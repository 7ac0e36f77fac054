package zipkin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"

	"github.com/weftrace/weft/model"
)

type jsonEndpoint struct {
	ServiceName string      `json:"serviceName"`
	IPv4        string      `json:"ipv4"`
	IPv6        string      `json:"ipv6"`
	Port        json.Number `json:"port"`
}

type jsonAnnotation struct {
	Timestamp json.Number   `json:"timestamp"`
	Value     string        `json:"value"`
	Endpoint  *jsonEndpoint `json:"endpoint"` // v1 only
}

type jsonSpanV2 struct {
	TraceID        string           `json:"traceId"`
	ID             string           `json:"id"`
	ParentID       string           `json:"parentId"`
	Kind           string           `json:"kind"`
	Name           string           `json:"name"`
	Timestamp      json.Number      `json:"timestamp"`
	Duration       json.Number      `json:"duration"`
	LocalEndpoint  *jsonEndpoint    `json:"localEndpoint"`
	RemoteEndpoint *jsonEndpoint    `json:"remoteEndpoint"`
	Annotations    []jsonAnnotation `json:"annotations"`
	Tags           map[string]any   `json:"tags"`
	Debug          bool             `json:"debug"`
	Shared         bool             `json:"shared"`

	// tagList holds the tags as convertTags makes them when decodeJSONV2Fast read the span (fastTags).
	tagList  []model.Attr
	fastTags bool
}

// decodeList decodes a JSON array into dst, with numbers kept as text.
func decodeList(body []byte, dst any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("body is not a JSON list of %s: %v", what, err)
	}
	if dec.More() {
		return fmt.Errorf("body has data after the JSON list of %s", what)
	}
	return nil
}

func decodeJSONV2(body []byte) ([]zspan, error) {
	in, ok := decodeJSONV2Fast(body)
	if !ok {
		in = nil
		if err := decodeList(body, &in, "Zipkin v2 spans"); err != nil {
			return nil, err
		}
	}
	return convertV2(in)
}

func convertV2(in []jsonSpanV2) ([]zspan, error) {
	out := make([]zspan, len(in))
	for i := range in {
		if err := in[i].convert(&out[i]); err != nil {
			return nil, fmt.Errorf("span %d: %v", i, err)
		}
	}
	return out, nil
}

func (j *jsonSpanV2) convert(z *zspan) error {
	var err error
	if z.traceID, z.id, z.parentID, err = parseIDs(j.TraceID, j.ID, j.ParentID); err != nil {
		return err
	}
	if j.Kind != "" {
		k, ok := zipkinKinds[j.Kind]
		if !ok {
			return fmt.Errorf("kind %q is not CLIENT, SERVER, PRODUCER or CONSUMER", truncate(j.Kind))
		}
		z.kind = k
	}
	z.name = j.Name
	if z.timestamp, err = parseMicros(j.Timestamp, "timestamp"); err != nil {
		return err
	}
	if z.duration, err = parseMicros(j.Duration, "duration"); err != nil {
		return err
	}
	if j.LocalEndpoint != nil {
		if z.local, err = j.LocalEndpoint.convert("localEndpoint"); err != nil {
			return err
		}
	}
	if j.RemoteEndpoint != nil {
		if z.remote, err = j.RemoteEndpoint.convert("remoteEndpoint"); err != nil {
			return err
		}
	}
	if len(j.Annotations) > 0 {
		z.annotations = make([]annotation, len(j.Annotations))
		for i, a := range j.Annotations {
			ts, err := parseMicros(a.Timestamp, "annotations["+itoa(i)+"].timestamp")
			if err != nil {
				return err
			}
			z.annotations[i] = annotation{timestamp: ts, value: a.Value}
		}
	}
	if j.fastTags {
		z.tags = j.tagList
	} else if z.tags, err = convertTags(j.Tags); err != nil {
		return err
	}
	z.debug, z.shared = j.Debug, j.Shared
	return nil
}

// parseIDs reads the hex IDs of a span: a trace ID of 16 or 32 hex digits, a span ID of 16 and an optional
// parent ID (empty or all zeroes for a root).
func parseIDs(trace, id, parent string) (model.TraceID, model.SpanID, model.SpanID, error) {
	var p model.SpanID
	t, err := model.ParseTraceID(trace)
	if err != nil {
		return t, model.SpanID{}, p, fmt.Errorf("traceId %q is not 16 or 32 hex digits, or is zero", truncate(trace))
	}
	s, err := model.ParseSpanID(id)
	if err != nil {
		return t, s, p, fmt.Errorf("id %q is not 16 hex digits, or is zero", truncate(id))
	}
	if parent != "" && !allZero(parent) {
		if p, err = model.ParseSpanID(parent); err != nil {
			return t, s, p, fmt.Errorf("parentId %q is not 16 hex digits", truncate(parent))
		}
	}
	return t, s, p, nil
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// parseMicros reads a non-negative count of microseconds; some clients send a fraction, which is dropped.
func parseMicros(n json.Number, field string) (int64, error) {
	if n == "" {
		return 0, nil
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i < 0 {
			return 0, fmt.Errorf("%s %s is negative", field, n)
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%s %s is not a count of microseconds", field, truncate(string(n)))
	}
	return int64(f), nil
}

func (e *jsonEndpoint) convert(field string) (endpoint, error) {
	out := endpoint{serviceName: e.ServiceName}
	if e.IPv4 != "" {
		a, err := netip.ParseAddr(e.IPv4)
		if err != nil || !a.Is4() {
			return out, fmt.Errorf("%s.ipv4 %q is not an IPv4 address", field, truncate(e.IPv4))
		}
		out.ipv4 = a.String()
	}
	if e.IPv6 != "" {
		a, err := netip.ParseAddr(e.IPv6)
		if err != nil || !a.Is6() {
			return out, fmt.Errorf("%s.ipv6 %q is not an IPv6 address", field, truncate(e.IPv6))
		}
		out.ipv6 = a.String()
	}
	if e.Port != "" {
		p, err := strconv.ParseInt(string(e.Port), 10, 32)
		if err != nil || p < 0 || p > 65535 {
			return out, fmt.Errorf("%s.port %s is not a port number", field, truncate(string(e.Port)))
		}
		out.port = int32(p)
	}
	return out, nil
}

// convertTags keeps tags as strings. Zipkin's tags are strings, but some clients send numbers and booleans,
// which are kept as their JSON text.
func convertTags(tags map[string]any) ([]model.Attr, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	out := make([]model.Attr, 0, len(tags))
	for k, v := range tags {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = string(x)
		case bool:
			s = strconv.FormatBool(x)
		case nil:
			continue
		default:
			return nil, fmt.Errorf("tags[%q] is not a string", truncate(k))
		}
		out = append(out, model.Attr{Key: k, Value: model.String(s)})
	}
	return sortTags(out), nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
