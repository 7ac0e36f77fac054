package zipkin

import (
	"encoding/hex"
	"encoding/json"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

type outEndpoint struct {
	ServiceName string `json:"serviceName,omitempty"`
	IPv4        string `json:"ipv4,omitempty"`
	IPv6        string `json:"ipv6,omitempty"`
	Port        int64  `json:"port,omitempty"`
}

type outAnnotation struct {
	Timestamp int64  `json:"timestamp"`
	Value     string `json:"value"`
}

type outSpan struct {
	TraceID        string            `json:"traceId"`
	ParentID       string            `json:"parentId,omitempty"`
	ID             string            `json:"id"`
	Kind           string            `json:"kind,omitempty"`
	Name           string            `json:"name,omitempty"`
	Timestamp      int64             `json:"timestamp,omitempty"`
	Duration       int64             `json:"duration,omitempty"`
	LocalEndpoint  *outEndpoint      `json:"localEndpoint,omitempty"`
	RemoteEndpoint *outEndpoint      `json:"remoteEndpoint,omitempty"`
	Annotations    []outAnnotation   `json:"annotations,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Debug          bool              `json:"debug,omitempty"`
	Shared         bool              `json:"shared,omitempty"`
}

// EncodeJSON writes spans as a Zipkin v2 JSON list, as the Zipkin query API answers: 64-bit trace IDs in 16 hex
// digits and 128-bit ones in 32, times in microseconds (a duration under one rounded up to one), the resource's
// service as the local endpoint, peer.service and net.peer.* as the remote endpoint, attributes as string tags, an
// error status as the error tag, and a weft span's causal fields as weft.* tags. Span events become annotations
// (their attributes are not kept: Zipkin has nowhere to put them).
func EncodeJSON(spans []*model.Span) ([]byte, error) {
	out := make([]outSpan, len(spans))
	for i, s := range spans {
		out[i] = encodeSpan(s)
	}
	return json.Marshal(out)
}

func encodeSpan(s *model.Span) outSpan {
	o := outSpan{
		TraceID:   traceIDString(s.TraceID),
		ID:        s.SpanID.String(),
		Name:      s.Name,
		Timestamp: s.Start / 1000,
		Duration:  s.Duration / 1000,
		Shared:    s.Flags&model.FlagShared != 0,
	}
	if !s.ParentID.IsZero() {
		o.ParentID = s.ParentID.String()
	}
	if s.Duration > 0 && o.Duration == 0 {
		o.Duration = 1
	}
	switch s.Kind {
	case model.KindClient, model.KindServer, model.KindProducer, model.KindConsumer:
		o.Kind = toUpper(s.Kind.String())
	}
	local := outEndpoint{ServiceName: s.Service()}
	var remote outEndpoint
	tags := make(map[string]string, len(s.Attrs)+2)
	for _, a := range s.Attrs {
		switch a.Key {
		case AttrHostIPv4:
			local.IPv4 = a.Value.AsString()
		case AttrHostIPv6:
			local.IPv6 = a.Value.AsString()
		case AttrHostPort:
			local.Port = a.Value.Int()
		case AttrPeerService:
			remote.ServiceName = a.Value.AsString()
		case AttrPeerIPv4:
			remote.IPv4 = a.Value.AsString()
		case AttrPeerIPv6:
			remote.IPv6 = a.Value.AsString()
		case AttrPeerPort:
			remote.Port = a.Value.Int()
		case AttrDebug:
			o.Debug = a.Value.Bool()
		default:
			tags[a.Key] = a.Value.AsString()
		}
	}
	for _, a := range ingest.SpanWeftAttrs(s) {
		tags[a.Key] = a.Value.AsString()
	}
	switch s.StatusCode {
	case model.StatusError:
		tags["error"] = s.StatusMessage
		if s.StatusMessage == "" {
			tags["error"] = "true"
		}
	case model.StatusOK:
		tags["otel.status_code"] = "OK"
	}
	if local != (outEndpoint{}) {
		o.LocalEndpoint = &local
	}
	if remote != (outEndpoint{}) {
		o.RemoteEndpoint = &remote
	}
	if len(tags) > 0 {
		o.Tags = tags
	}
	for _, e := range s.Events {
		o.Annotations = append(o.Annotations, outAnnotation{Timestamp: e.Time / 1000, Value: e.Name})
	}
	return o
}

func traceIDString(t model.TraceID) string {
	for _, b := range t[:8] {
		if b != 0 {
			return t.String()
		}
	}
	return hex.EncodeToString(t[8:])
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
