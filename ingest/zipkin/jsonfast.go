package zipkin

import (
	"encoding/json"
	"unsafe"

	"github.com/weftrace/weft/ingest/internal/jsonread"
	"github.com/weftrace/weft/model"
)

// decodeJSONV2Fast reads a Zipkin v2 JSON list the way Zipkin clients write it — the field names spelled as
// Zipkin spells them, each once; strings without \u escapes, in valid UTF-8; numbers as numbers; tag values that
// are strings, numbers or booleans — straight into jsonSpanV2, without reflection. On anything else, valid or
// not, it answers ok = false and the caller decodes the body with encoding/json, whose answer (the spans, or the
// error naming what was wrong) is the reference: a test holds the two to the same spans on every input this one
// takes.
func decodeJSONV2Fast(body []byte) (spans []jsonSpanV2, ok bool) {
	d := jsonFast{r: jsonread.Reader{B: body}, intern: make(map[string]string, 64)}
	d.r.WS()
	if d.r.Peek() != '[' {
		return nil, false
	}
	spans = make([]jsonSpanV2, 0, len(body)/512+1)
	ok = d.r.Array(func() bool {
		spans = append(spans, jsonSpanV2{})
		return d.span(&spans[len(spans)-1])
	})
	if !ok || !d.r.End() {
		return nil, false
	}
	return spans, true
}

// jsonFast is the reader of decodeJSONV2Fast. Every method reports false for anything it does not take, and the
// whole list is then given to encoding/json.
type jsonFast struct {
	r      jsonread.Reader
	intern map[string]string // names, keys and values that repeat: one string per request
	tagBuf []model.Attr      // the tags of the span being read
	attrs  []model.Attr      // a block the spans' tags are cut from: len is what is taken
	values []byte            // a block other kept strings are copied into: len is what is taken
}

// Strings are made three ways (the modes of str). What convertV2 only parses (IDs, times, ports, kinds,
// addresses) points into the body: the body outlives the decoding, not the spans. Names, keys and short values
// are interned. The other kept values are copied into shared blocks, which live as long as any span of the
// request (the store keeps a request's spans together).
const (
	keep     = iota // a value the spans keep: copied into the value block
	shared          // a name or key that repeats: interned
	parsedAt        // parsed before decoding returns: the body's memory
)

const (
	tagBlock   = 1024
	valueBlock = 16 << 10
)

// str reads a string and makes it as mode says.
func (d *jsonFast) str(mode int) (string, bool) {
	b, inBody, ok := d.r.String()
	if !ok {
		return "", false
	}
	if mode == parsedAt && !inBody {
		mode = keep // the reader's own bytes are written again
	}
	return d.makeString(b, mode), true
}

// number reads a number, as json.Number keeps it; its text is the body's.
func (d *jsonFast) number() (json.Number, bool) {
	b, ok := d.r.Number()
	return json.Number(transient(b)), ok
}

// transient gives b as a string that shares its memory: only for what is parsed before decoding returns.
func transient(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// makeString gives b as a string made as mode says.
func (d *jsonFast) makeString(b []byte, mode int) string {
	switch {
	case len(b) == 0:
		return ""
	case mode == parsedAt:
		return transient(b)
	case mode == shared && len(b) <= 64:
		if s, ok := d.intern[string(b)]; ok {
			return s
		}
		s := string(b)
		if len(d.intern) < 4096 {
			d.intern[s] = s
		}
		return s
	case len(b) > valueBlock/8:
		return string(b)
	}
	if cap(d.values)-len(d.values) < len(b) {
		d.values = make([]byte, 0, valueBlock)
	}
	start := len(d.values)
	d.values = append(d.values, b...)
	// The block only grows past these bytes, and a new block replaces it when full: they are never written again.
	return unsafe.String(&d.values[start], len(b))
}

func (d *jsonFast) span(s *jsonSpanV2) bool {
	return d.r.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "traceId":
			s.TraceID, ok = d.str(parsedAt)
		case "id":
			s.ID, ok = d.str(parsedAt)
		case "parentId":
			s.ParentID, ok = d.str(parsedAt)
		case "kind":
			s.Kind, ok = d.str(parsedAt)
		case "name":
			s.Name, ok = d.str(shared)
		case "timestamp":
			s.Timestamp, ok = d.number()
		case "duration":
			s.Duration, ok = d.number()
		case "localEndpoint":
			s.LocalEndpoint = &jsonEndpoint{}
			ok = d.endpoint(s.LocalEndpoint)
		case "remoteEndpoint":
			s.RemoteEndpoint = &jsonEndpoint{}
			ok = d.endpoint(s.RemoteEndpoint)
		case "annotations":
			ok = d.annotations(s)
		case "tags":
			ok = d.tags(s)
		case "debug":
			s.Debug, ok = d.r.Bool()
		case "shared":
			s.Shared, ok = d.r.Bool()
		}
		return ok
	})
}

func (d *jsonFast) endpoint(e *jsonEndpoint) bool {
	return d.r.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "serviceName":
			e.ServiceName, ok = d.str(shared)
		case "ipv4":
			e.IPv4, ok = d.str(parsedAt)
		case "ipv6":
			e.IPv6, ok = d.str(parsedAt)
		case "port":
			e.Port, ok = d.number()
		}
		return ok
	})
}

func (d *jsonFast) annotations(s *jsonSpanV2) bool {
	s.Annotations = []jsonAnnotation{}
	return d.r.Array(func() bool {
		var a jsonAnnotation
		ok := d.r.Object(func(key []byte) bool {
			var ok bool
			switch string(key) {
			case "timestamp":
				a.Timestamp, ok = d.number()
			case "value":
				a.Value, ok = d.str(shared)
			}
			return ok
		})
		s.Annotations = append(s.Annotations, a)
		return ok
	})
}

// tags reads the tags object into s.tagList as convertTags would make them: strings as they are, numbers and
// booleans as their JSON text, a repeated key's last value. A null (which encoding/json would keep in the map,
// dropping an earlier value of the key), an object or an array is refused.
func (d *jsonFast) tags(s *jsonSpanV2) bool {
	if d.r.Peek() != '{' {
		return false
	}
	tags := d.tagBuf[:0]
	ok := d.r.Members(func(k []byte) bool {
		key := d.makeString(k, shared) // before the value is read: k may be the reader's own bytes
		var v string
		switch c := d.r.Peek(); {
		case c == '"':
			var ok bool
			if v, ok = d.str(shared); !ok {
				return false
			}
		case c == '-' || c >= '0' && c <= '9':
			n, ok := d.r.Number()
			if !ok {
				return false
			}
			v = d.makeString(n, shared)
		case d.r.Literal("true"):
			v = "true"
		case d.r.Literal("false"):
			v = "false"
		default:
			return false
		}
		tags = append(tags, model.Attr{Key: key, Value: model.String(v)})
		return true
	})
	d.tagBuf = tags
	if !ok {
		return false
	}
	s.fastTags = true
	if tags = sortTags(tags); len(tags) == 0 {
		return true
	}
	// The span's tags are cut from the shared block, capped so that an append copies instead of writing over the
	// next span's.
	if cap(d.attrs)-len(d.attrs) < len(tags) {
		d.attrs = make([]model.Attr, 0, max(tagBlock, len(tags)))
	}
	start := len(d.attrs)
	d.attrs = append(d.attrs, tags...)
	s.tagList = d.attrs[start:len(d.attrs):len(d.attrs)]
	return true
}
