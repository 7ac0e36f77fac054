package zipkin

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/weftrace/weft/model"
)

type jsonBinaryAnnotation struct {
	Key      string        `json:"key"`
	Value    any           `json:"value"`
	Endpoint *jsonEndpoint `json:"endpoint"`
}

type jsonSpanV1 struct {
	TraceID           string                 `json:"traceId"`
	ID                string                 `json:"id"`
	ParentID          string                 `json:"parentId"`
	Name              string                 `json:"name"`
	Timestamp         json.Number            `json:"timestamp"`
	Duration          json.Number            `json:"duration"`
	Annotations       []jsonAnnotation       `json:"annotations"`
	BinaryAnnotations []jsonBinaryAnnotation `json:"binaryAnnotations"`
	Debug             bool                   `json:"debug"`
}

// decodeJSONV1 reads a v1 JSON list and converts each span to v2 as Zipkin does: the core annotations cs, cr,
// sr, ss, ms and mr give the kind, the times and the local endpoint; a span with both client and server
// annotations (one span ID shared by both sides) becomes a client span and a shared server span; the address
// annotations ca, sa and ma give the remote endpoint; the other binary annotations become tags.
func decodeJSONV1(body []byte) ([]zspan, error) {
	var in []jsonSpanV1
	if err := decodeList(body, &in, "Zipkin v1 spans"); err != nil {
		return nil, err
	}
	out := make([]zspan, 0, len(in))
	for i := range in {
		var err error
		if out, err = in[i].convert(out); err != nil {
			return nil, fmt.Errorf("span %d: %v", i, err)
		}
	}
	return out, nil
}

type v1Annotation struct {
	annotation
	local endpoint
}

func (j *jsonSpanV1) convert(out []zspan) ([]zspan, error) {
	var base zspan
	var err error
	if base.traceID, base.id, base.parentID, err = parseIDs(j.TraceID, j.ID, j.ParentID); err != nil {
		return out, err
	}
	base.name, base.debug = j.Name, j.Debug
	ts, err := parseMicros(j.Timestamp, "timestamp")
	if err != nil {
		return out, err
	}
	dur, err := parseMicros(j.Duration, "duration")
	if err != nil {
		return out, err
	}

	core := map[string]v1Annotation{}
	var other []v1Annotation
	for i, a := range j.Annotations {
		t, err := parseMicros(a.Timestamp, "annotations["+itoa(i)+"].timestamp")
		if err != nil {
			return out, err
		}
		va := v1Annotation{annotation: annotation{timestamp: t, value: a.Value}}
		if a.Endpoint != nil {
			if va.local, err = a.Endpoint.convert("annotations[" + itoa(i) + "].endpoint"); err != nil {
				return out, err
			}
		}
		switch a.Value {
		case "cs", "cr", "sr", "ss", "ms", "mr":
			if _, dup := core[a.Value]; !dup {
				core[a.Value] = va
				continue
			}
		}
		other = append(other, va)
	}

	var tags []model.Attr
	var clientAddr, serverAddr, brokerAddr, anyEndpoint *endpoint
	var localComponent *endpoint
	for i, ba := range j.BinaryAnnotations {
		var ep *endpoint
		if ba.Endpoint != nil {
			e, err := ba.Endpoint.convert("binaryAnnotations[" + itoa(i) + "].endpoint")
			if err != nil {
				return out, err
			}
			ep = &e
		}
		switch ba.Key {
		case "ca", "sa", "ma":
			if ep != nil {
				switch ba.Key {
				case "ca":
					clientAddr = ep
				case "sa":
					serverAddr = ep
				default:
					brokerAddr = ep
				}
				continue
			}
		}
		if ep != nil && anyEndpoint == nil {
			anyEndpoint = ep
		}
		if ba.Key == "lc" && ep != nil {
			localComponent = ep
		}
		var s string
		switch v := ba.Value.(type) {
		case string:
			s = v
		case json.Number:
			s = string(v)
		case bool:
			s = strconv.FormatBool(v)
		case nil:
		default:
			return out, fmt.Errorf("binaryAnnotations[%d] %q has a value that is not a string, number or boolean", i, truncate(ba.Key))
		}
		tags = append(tags, model.Attr{Key: ba.Key, Value: model.String(s)})
	}
	tags = sortTags(tags)
	base.tags = tags

	cs, hasCS := core["cs"]
	cr, hasCR := core["cr"]
	sr, hasSR := core["sr"]
	ss, hasSS := core["ss"]
	ms, hasMS := core["ms"]
	mr, hasMR := core["mr"]
	isClient, isServer := hasCS || hasCR, hasSR || hasSS

	pick := func(eps ...*endpoint) endpoint {
		for _, e := range eps {
			if e != nil && !e.isZero() {
				return *e
			}
		}
		return endpoint{}
	}
	epOf := func(a v1Annotation, ok bool) *endpoint {
		if !ok {
			return nil
		}
		return &a.local
	}
	span := func(kind model.Kind, start, end v1Annotation, hasStart, hasEnd bool) zspan {
		z := base
		z.kind = kind
		switch {
		case hasStart && hasEnd:
			z.timestamp, z.duration = start.timestamp, end.timestamp-start.timestamp
		case hasStart:
			z.timestamp = start.timestamp
		}
		return z
	}
	// assign gives a split span the annotations recorded on its side; those without an endpoint go to the client.
	assign := func(z *zspan, client bool) {
		for _, a := range other {
			if a.local == z.local || (client && a.local.isZero()) {
				z.annotations = append(z.annotations, a.annotation)
			}
		}
	}

	switch {
	case isClient && isServer:
		client := span(model.KindClient, cs, cr, hasCS, hasCR)
		if ts != 0 {
			client.timestamp, client.duration = ts, dur
		}
		client.local = pick(epOf(cs, hasCS), epOf(cr, hasCR), localComponent, anyEndpoint)
		server := span(model.KindServer, sr, ss, hasSR, hasSS)
		server.shared = true
		server.local = pick(epOf(sr, hasSR), epOf(ss, hasSS))
		client.remote = pick(serverAddr, &server.local)
		server.remote = pick(clientAddr, &client.local)
		server.tags = append([]model.Attr(nil), tags...)
		assign(&client, true)
		if server.local != client.local {
			assign(&server, false)
		}
		return append(out, client, server), nil
	case isClient:
		z := span(model.KindClient, cs, cr, hasCS, hasCR)
		z.local = pick(epOf(cs, hasCS), epOf(cr, hasCR), localComponent, anyEndpoint)
		z.remote = pick(serverAddr)
		out = append(out, z)
	case isServer:
		z := span(model.KindServer, sr, ss, hasSR, hasSS)
		z.local = pick(epOf(sr, hasSR), epOf(ss, hasSS), localComponent, anyEndpoint)
		z.remote = pick(clientAddr)
		out = append(out, z)
	case hasMS:
		z := span(model.KindProducer, ms, ms, true, false)
		z.local = pick(epOf(ms, true), localComponent, anyEndpoint)
		z.remote = pick(brokerAddr)
		out = append(out, z)
	case hasMR:
		z := span(model.KindConsumer, mr, mr, true, false)
		z.local = pick(epOf(mr, true), localComponent, anyEndpoint)
		z.remote = pick(brokerAddr)
		out = append(out, z)
	default:
		var first *endpoint
		for i := range other {
			if !other[i].local.isZero() {
				first = &other[i].local
				break
			}
		}
		z := base
		z.local = pick(localComponent, first, anyEndpoint)
		z.remote = pick(serverAddr, clientAddr, brokerAddr)
		out = append(out, z)
	}
	z := &out[len(out)-1]
	if ts != 0 {
		z.timestamp, z.duration = ts, dur
	}
	for _, a := range other { // one span: every annotation is its own
		z.annotations = append(z.annotations, a.annotation)
	}
	return out, nil
}
