package zipkin

import (
	"slices"
	"strconv"
	"strings"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// zspan is a Zipkin v2 span as every wire format decodes it, before conversion to the model.
type zspan struct {
	traceID       model.TraceID
	id, parentID  model.SpanID
	kind          model.Kind
	name          string
	timestamp     int64 // epoch microseconds; 0 when absent
	duration      int64 // microseconds; 0 when absent
	local, remote endpoint
	annotations   []annotation
	tags          []model.Attr // string values, sorted by key
	debug, shared bool
}

type endpoint struct {
	serviceName string
	ipv4, ipv6  string // textual addresses
	port        int32
}

func (e endpoint) isZero() bool { return e == endpoint{} }

type annotation struct {
	timestamp int64 // epoch microseconds
	value     string
}

// Attribute keys for what Zipkin carries outside tags.
const (
	AttrPeerService = "peer.service"
	AttrPeerIPv4    = "net.peer.ip"
	AttrPeerIPv6    = "net.peer.ipv6"
	AttrPeerPort    = "net.peer.port"
	AttrHostIPv4    = "net.host.ip"
	AttrHostIPv6    = "net.host.ipv6"
	AttrHostPort    = "net.host.port"
	AttrDebug       = "zipkin.debug"
)

// unknownService is the service of a span without a local endpoint service name.
const unknownService = "unknown_service"

var zipkinKinds = map[string]model.Kind{
	"CLIENT": model.KindClient, "SERVER": model.KindServer, "PRODUCER": model.KindProducer, "CONSUMER": model.KindConsumer,
}

// sortTags orders tags by key so that the model is the same whatever order the map arrived in, and keeps only
// the last of a repeated key, as a proto map or a JSON object does. It is O(n log n) whatever the input.
func sortTags(tags []model.Attr) []model.Attr {
	slices.SortStableFunc(tags, func(a, b model.Attr) int { return strings.Compare(a.Key, b.Key) })
	out := tags[:0]
	for i, t := range tags {
		if i+1 < len(tags) && tags[i+1].Key == t.Key {
			continue // a later value of the same key wins
		}
		out = append(out, t)
	}
	return out
}

// toModel converts decoded spans; spans of one service share one *model.Resource.
func toModel(zs []zspan) []*model.Span {
	resources := map[string]*model.Resource{}
	block := make([]model.Span, len(zs))
	out := make([]*model.Span, len(zs))
	var norm ingest.Normalizer
	for i := range zs {
		z := &zs[i]
		s := &block[i]
		out[i] = s
		svc := z.local.serviceName
		if svc == "" {
			svc = unknownService
		}
		res := resources[svc]
		if res == nil {
			res = &model.Resource{Service: svc}
			resources[svc] = res
		}
		s.Resource = res
		s.TraceID, s.SpanID, s.ParentID = z.traceID, z.id, z.parentID
		s.Name, s.Kind = z.name, z.kind
		start, dur := z.timestamp, z.duration
		if start == 0 && len(z.annotations) > 0 {
			// An incomplete or late span: place it by its annotations.
			lo, hi := z.annotations[0].timestamp, z.annotations[0].timestamp
			for _, a := range z.annotations {
				lo, hi = min(lo, a.timestamp), max(hi, a.timestamp)
			}
			start, dur = lo, hi-lo
		}
		s.Start, s.Duration = micros(start), micros(dur)
		if z.shared {
			s.Flags |= model.FlagShared
		}
		if len(z.annotations) > 0 {
			s.Events = make([]model.Event, len(z.annotations))
			for j, a := range z.annotations {
				s.Events[j] = model.Event{Time: micros(a.timestamp), Name: a.value}
			}
		}
		attrs := make([]model.Attr, 0, len(z.tags)+7)
		for _, t := range z.tags {
			switch t.Key {
			case "error":
				s.StatusCode = model.StatusError
				if t.Value.Str != "true" && s.StatusMessage == "" {
					s.StatusMessage = t.Value.Str
				}
				continue
			case "otel.status_code":
				switch t.Value.Str {
				case "ERROR":
					s.StatusCode = model.StatusError
					continue
				case "OK":
					if s.StatusCode != model.StatusError {
						s.StatusCode = model.StatusOK
					}
					continue
				}
			case "otel.status_description":
				s.StatusMessage = t.Value.Str
				continue
			}
			attrs = append(attrs, t)
		}
		attrs = appendEndpoint(attrs, z.local, "", AttrHostIPv4, AttrHostIPv6, AttrHostPort)
		attrs = appendEndpoint(attrs, z.remote, AttrPeerService, AttrPeerIPv4, AttrPeerIPv6, AttrPeerPort)
		if z.debug {
			attrs = append(attrs, model.Attr{Key: AttrDebug, Value: model.Bool(true)})
		}
		if len(attrs) > 0 {
			s.Attrs = attrs
		}
		ingest.ExtractCausality(s)
		norm.Normalize(s)
	}
	return out
}

func appendEndpoint(attrs []model.Attr, e endpoint, svcKey, v4Key, v6Key, portKey string) []model.Attr {
	if svcKey != "" && e.serviceName != "" {
		attrs = append(attrs, model.Attr{Key: svcKey, Value: model.String(e.serviceName)})
	}
	if e.ipv4 != "" {
		attrs = append(attrs, model.Attr{Key: v4Key, Value: model.String(e.ipv4)})
	}
	if e.ipv6 != "" {
		attrs = append(attrs, model.Attr{Key: v6Key, Value: model.String(e.ipv6)})
	}
	if e.port != 0 {
		attrs = append(attrs, model.Attr{Key: portKey, Value: model.Int(int64(e.port))})
	}
	return attrs
}

// micros converts microseconds to nanoseconds, saturating instead of overflowing.
func micros(us int64) int64 {
	const max = 1<<63/1000 - 1
	if us > max {
		return max * 1000
	}
	return us * 1000
}

func itoa(i int) string { return strconv.Itoa(i) }
