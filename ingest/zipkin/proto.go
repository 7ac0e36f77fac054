package zipkin

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weftrace/weft/model"
)

// Field numbers of zipkin.proto3 (zipkin-api's zipkin.proto).
const (
	fieldListSpans = 1 // ListOfSpans.spans

	fieldTraceID        = 1
	fieldParentID       = 2
	fieldID             = 3
	fieldKind           = 4
	fieldName           = 5
	fieldTimestamp      = 6 // fixed64
	fieldDuration       = 7 // uint64
	fieldLocalEndpoint  = 8
	fieldRemoteEndpoint = 9
	fieldAnnotations    = 10
	fieldTags           = 11 // map<string, string>
	fieldDebug          = 12
	fieldShared         = 13

	fieldEndpointService = 1
	fieldEndpointIPv4    = 2
	fieldEndpointIPv6    = 3
	fieldEndpointPort    = 4

	fieldAnnotationTimestamp = 1 // fixed64
	fieldAnnotationValue     = 2
)

// decodeProto reads a proto3 ListOfSpans.
func decodeProto(b []byte) ([]zspan, error) {
	var out []zspan
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("ListOfSpans: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if num == fieldListSpans && typ == protowire.BytesType {
			msg, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("span %d: %v", len(out), protowire.ParseError(n))
			}
			b = b[n:]
			var z zspan
			if err := decodeSpan(msg, &z); err != nil {
				return nil, fmt.Errorf("span %d: %v", len(out), err)
			}
			out = append(out, z)
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return nil, fmt.Errorf("ListOfSpans field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return out, nil
}

var errWireType = errors.New("wrong wire type")

// fieldReader walks the fields of one message.
type fieldReader struct {
	b   []byte
	err error
}

// next returns the next field's number, wire type and raw value (for varints and fixed values, the number
// itself in v; for length-delimited ones, the bytes in data).
func (r *fieldReader) next() (num protowire.Number, typ protowire.Type, v uint64, data []byte, ok bool) {
	if len(r.b) == 0 || r.err != nil {
		return 0, 0, 0, nil, false
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.err = protowire.ParseError(n)
		return 0, 0, 0, nil, false
	}
	r.b = r.b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(r.b)
	case protowire.Fixed64Type:
		v, n = protowire.ConsumeFixed64(r.b)
	case protowire.Fixed32Type:
		var v32 uint32
		v32, n = protowire.ConsumeFixed32(r.b)
		v = uint64(v32)
	case protowire.BytesType:
		data, n = protowire.ConsumeBytes(r.b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, r.b)
	}
	if n < 0 {
		r.err = fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
		return 0, 0, 0, nil, false
	}
	r.b = r.b[n:]
	return num, typ, v, data, true
}

func decodeSpan(b []byte, z *zspan) error {
	r := fieldReader{b: b}
	var traceID, id, parentID []byte
	for {
		num, typ, v, data, ok := r.next()
		if !ok {
			break
		}
		want := protowire.BytesType
		switch num {
		case fieldTraceID:
			traceID = data
		case fieldParentID:
			parentID = data
		case fieldID:
			id = data
		case fieldKind:
			want = protowire.VarintType
			switch v {
			case 0:
			case 1:
				z.kind = model.KindClient
			case 2:
				z.kind = model.KindServer
			case 3:
				z.kind = model.KindProducer
			case 4:
				z.kind = model.KindConsumer
			default:
				return fmt.Errorf("kind %d is not a Zipkin span kind", v)
			}
		case fieldName:
			if !utf8.Valid(data) {
				return errors.New("name is not valid UTF-8")
			}
			z.name = string(data)
		case fieldTimestamp:
			want = protowire.Fixed64Type
			if v > math.MaxInt64 {
				return fmt.Errorf("timestamp %d is out of range", v)
			}
			z.timestamp = int64(v)
		case fieldDuration:
			want = protowire.VarintType
			if v > math.MaxInt64 {
				return fmt.Errorf("duration %d is out of range", v)
			}
			z.duration = int64(v)
		case fieldLocalEndpoint, fieldRemoteEndpoint:
			e, err := decodeEndpoint(data)
			if err != nil {
				if num == fieldLocalEndpoint {
					return fmt.Errorf("local_endpoint: %v", err)
				}
				return fmt.Errorf("remote_endpoint: %v", err)
			}
			if num == fieldLocalEndpoint {
				z.local = e
			} else {
				z.remote = e
			}
		case fieldAnnotations:
			a, err := decodeAnnotation(data)
			if err != nil {
				return fmt.Errorf("annotations[%d]: %v", len(z.annotations), err)
			}
			z.annotations = append(z.annotations, a)
		case fieldTags:
			k, val, err := decodeTag(data)
			if err != nil {
				return fmt.Errorf("tags: %v", err)
			}
			z.tags = append(z.tags, model.Attr{Key: k, Value: model.String(val)})
		case fieldDebug:
			want = protowire.VarintType
			z.debug = v != 0
		case fieldShared:
			want = protowire.VarintType
			z.shared = v != 0
		default:
			continue // unknown fields are skipped, as proto3 says
		}
		if typ != want {
			return fmt.Errorf("field %d: %v %d, want %d", num, errWireType, typ, want)
		}
	}
	if r.err != nil {
		return r.err
	}
	var err error
	if z.traceID, err = protoTraceID(traceID); err != nil {
		return err
	}
	if len(id) != 8 || allZeroBytes(id) {
		return fmt.Errorf("id must be 8 bytes and not zero, got %d bytes", len(id))
	}
	copy(z.id[:], id)
	if len(parentID) != 0 && !allZeroBytes(parentID) {
		if len(parentID) != 8 {
			return fmt.Errorf("parent_id must be 8 bytes, got %d", len(parentID))
		}
		copy(z.parentID[:], parentID)
	}
	z.tags = sortTags(z.tags)
	return nil
}

func protoTraceID(b []byte) (model.TraceID, error) {
	var t model.TraceID
	if (len(b) != 8 && len(b) != 16) || allZeroBytes(b) {
		return t, fmt.Errorf("trace_id must be 8 or 16 bytes and not zero, got %d bytes", len(b))
	}
	copy(t[16-len(b):], b)
	return t, nil
}

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func decodeEndpoint(b []byte) (endpoint, error) {
	var e endpoint
	r := fieldReader{b: b}
	for {
		num, typ, v, data, ok := r.next()
		if !ok {
			break
		}
		want := protowire.BytesType
		switch num {
		case fieldEndpointService:
			if !utf8.Valid(data) {
				return e, errors.New("service_name is not valid UTF-8")
			}
			e.serviceName = string(data)
		case fieldEndpointIPv4:
			if len(data) != 0 {
				a, ok := netip.AddrFromSlice(data)
				if !ok || !a.Is4() {
					return e, fmt.Errorf("ipv4 must be 4 bytes, got %d", len(data))
				}
				e.ipv4 = a.String()
			}
		case fieldEndpointIPv6:
			if len(data) != 0 {
				a, ok := netip.AddrFromSlice(data)
				if !ok || len(data) != 16 {
					return e, fmt.Errorf("ipv6 must be 16 bytes, got %d", len(data))
				}
				e.ipv6 = a.String()
			}
		case fieldEndpointPort:
			want = protowire.VarintType
			if int32(v) < 0 || v > 65535 {
				return e, fmt.Errorf("port %d is not a port number", int32(v))
			}
			e.port = int32(v)
		default:
			continue
		}
		if typ != want {
			return e, fmt.Errorf("field %d: %v %d, want %d", num, errWireType, typ, want)
		}
	}
	return e, r.err
}

func decodeAnnotation(b []byte) (annotation, error) {
	var a annotation
	r := fieldReader{b: b}
	for {
		num, typ, v, data, ok := r.next()
		if !ok {
			break
		}
		switch num {
		case fieldAnnotationTimestamp:
			if typ != protowire.Fixed64Type || v > math.MaxInt64 {
				return a, errors.New("timestamp is not a fixed64 count of microseconds")
			}
			a.timestamp = int64(v)
		case fieldAnnotationValue:
			if typ != protowire.BytesType || !utf8.Valid(data) {
				return a, errors.New("value is not a UTF-8 string")
			}
			a.value = string(data)
		}
	}
	return a, r.err
}

func decodeTag(b []byte) (key, value string, err error) {
	r := fieldReader{b: b}
	for {
		num, typ, _, data, ok := r.next()
		if !ok {
			break
		}
		if num != 1 && num != 2 {
			continue
		}
		if typ != protowire.BytesType || !utf8.Valid(data) {
			return "", "", errors.New("map entry is not a pair of UTF-8 strings")
		}
		if num == 1 {
			key = string(data)
		} else {
			value = string(data)
		}
	}
	return key, value, r.err
}
