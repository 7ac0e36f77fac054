package zipkin

import (
	"encoding/json"
	"unicode/utf8"
	"unsafe"

	"github.com/weftrace/weft/model"
)

// decodeJSONV2Fast reads a Zipkin v2 JSON list the way Zipkin clients write it — the field names spelled as
// Zipkin spells them, each once; strings without \u escapes, in valid UTF-8; numbers as numbers; tag values that
// are strings, numbers or booleans — straight into jsonSpanV2, without reflection. On anything else, valid or
// not, it answers ok = false and the caller decodes the body with encoding/json, whose answer (the spans, or the
// error naming what was wrong) is the reference: a test holds the two to the same spans on every input this one
// takes.
func decodeJSONV2Fast(body []byte) (spans []jsonSpanV2, ok bool) {
	d := jsonFast{b: body, intern: make(map[string]string, 64)}
	d.ws()
	if !d.byte('[') {
		return nil, false
	}
	spans = make([]jsonSpanV2, 0, len(body)/512+1)
	d.ws()
	if d.byte(']') {
		return spans, d.end()
	}
	for {
		spans = append(spans, jsonSpanV2{})
		if !d.span(&spans[len(spans)-1]) {
			return nil, false
		}
		d.ws()
		if d.byte(']') {
			return spans, d.end()
		}
		if !d.byte(',') {
			return nil, false
		}
		d.ws()
	}
}

// jsonFast is the reader of decodeJSONV2Fast: b[i:] is what is left. Every method reports false for anything it
// does not take, and the whole list is then given to encoding/json.
type jsonFast struct {
	b      []byte
	i      int
	intern map[string]string // names, keys and values that repeat: one string per request
	buf    []byte            // unescaped strings are built here
	tagBuf []model.Attr      // the tags of the span being read
	attrs  []model.Attr      // a block the spans' tags are cut from: len is what is taken
	values []byte            // a block other kept strings are copied into: len is what is taken
}

// Strings are made three ways. What convertV2 only parses (IDs, times, ports, kinds, addresses) points into the
// body: the body outlives the decoding, not the spans. Names, keys and short values are interned. The other kept
// values are copied into shared blocks, which live as long as any span of the request (the store keeps a
// request's spans together).
const (
	tagBlock   = 1024
	valueBlock = 16 << 10
)

// transient gives b as a string that shares the body's memory: only for what is parsed before decoding returns.
func transient(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (d *jsonFast) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte takes c if it is next.
func (d *jsonFast) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (d *jsonFast) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// object reads an object, calling field for each key (white space around the value is taken here); a key seen twice
// is refused, since encoding/json merges some of those.
func (d *jsonFast) object(field func(key []byte) bool) bool {
	d.ws()
	if !d.byte('{') {
		return false
	}
	d.ws()
	if d.byte('}') {
		return true
	}
	var seen [16][]byte
	n := 0
	for {
		key, ok := d.rawString()
		if !ok {
			return false
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				return false
			}
		}
		if n < len(seen) {
			seen[n] = key
			n++
		} else {
			return false
		}
		d.ws()
		if !d.byte(':') {
			return false
		}
		d.ws()
		if !field(key) {
			return false
		}
		d.ws()
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
		d.ws()
	}
}

// rawString reads a string without escapes and gives its bytes, which stay in the body.
func (d *jsonFast) rawString() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// How str makes a string (see transient).
const (
	keep     = iota // a value the spans keep: copied into the value block
	shared          // a name or key that repeats: interned
	parsedAt        // parsed before decoding returns: the body's memory
)

// str reads a string, undoing the one-character escapes; \u escapes are left to encoding/json.
func (d *jsonFast) str(mode int) (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return d.makeString(s, mode), true
		case c == '\\':
			return d.escaped(start, mode)
		case c < 0x20:
			return "", false
		}
		d.i++
	}
	return "", false
}

// escaped finishes a string that has escapes, from its first byte at start.
func (d *jsonFast) escaped(start, mode int) (string, bool) {
	d.buf = append(d.buf[:0], d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(d.buf) {
				return "", false
			}
			if mode == parsedAt {
				mode = keep // d.buf is written again
			}
			return d.makeString(d.buf, mode), true
		case c < 0x20:
			return "", false
		case c != '\\':
			d.buf = append(d.buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", false
		}
		var r byte
		switch d.b[d.i+1] {
		case '"', '\\', '/':
			r = d.b[d.i+1]
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		default: // \u and anything invalid
			return "", false
		}
		d.buf = append(d.buf, r)
		d.i += 2
	}
	return "", false
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

// number reads a JSON number and gives its text, as json.Number keeps it.
func (d *jsonFast) number() (json.Number, bool) {
	start := d.i
	d.byte('-')
	switch {
	case d.byte('0'):
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return "", false
	}
	if d.byte('.') {
		if !d.digits() {
			return "", false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if !d.byte('+') {
			d.byte('-')
		}
		if !d.digits() {
			return "", false
		}
	}
	return json.Number(transient(d.b[start:d.i])), true
}

// digits takes a run of at least one digit.
func (d *jsonFast) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// literal takes word (true, false) if it is next.
func (d *jsonFast) literal(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

func (d *jsonFast) boolean(v *bool) bool {
	switch {
	case d.literal("true"):
		*v = true
	case d.literal("false"):
		*v = false
	default:
		return false
	}
	return true
}

func (d *jsonFast) span(s *jsonSpanV2) bool {
	return d.object(func(key []byte) bool {
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
			ok = d.boolean(&s.Debug)
		case "shared":
			ok = d.boolean(&s.Shared)
		}
		return ok
	})
}

func (d *jsonFast) endpoint(e *jsonEndpoint) bool {
	return d.object(func(key []byte) bool {
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
	if !d.byte('[') {
		return false
	}
	s.Annotations = []jsonAnnotation{}
	d.ws()
	if d.byte(']') {
		return true
	}
	for {
		var a jsonAnnotation
		ok := d.object(func(key []byte) bool {
			var ok bool
			switch string(key) {
			case "timestamp":
				a.Timestamp, ok = d.number()
			case "value":
				a.Value, ok = d.str(shared)
			}
			return ok
		})
		if !ok {
			return false
		}
		s.Annotations = append(s.Annotations, a)
		d.ws()
		if d.byte(']') {
			return true
		}
		if !d.byte(',') {
			return false
		}
		d.ws()
	}
}

// tags reads the tags object into s.tags as convertTags would make them: strings as they are, numbers and
// booleans as their JSON text. A null (which encoding/json would keep in the map, dropping an earlier value of the
// key), an object or an array is refused.
func (d *jsonFast) tags(s *jsonSpanV2) bool {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return false
	}
	tags := d.tagBuf[:0]
	ok := d.objectAnyKeys(func(key string) bool {
		var v string
		switch c := d.b[d.i]; {
		case c == '"':
			var ok bool
			if v, ok = d.str(shared); !ok {
				return false
			}
		case c == '-' || c >= '0' && c <= '9':
			n, ok := d.number()
			if !ok {
				return false
			}
			v = d.makeString([]byte(n), shared)
		case d.literal("true"):
			v = "true"
		case d.literal("false"):
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

// objectAnyKeys reads an object whose keys are data (tags): any number of them, repeats allowed (the last wins,
// as in a map), keys may have escapes.
func (d *jsonFast) objectAnyKeys(field func(key string) bool) bool {
	if !d.byte('{') {
		return false
	}
	d.ws()
	if d.byte('}') {
		return true
	}
	for {
		key, ok := d.str(shared)
		if !ok {
			return false
		}
		d.ws()
		if !d.byte(':') {
			return false
		}
		d.ws()
		if d.i >= len(d.b) || !field(key) {
			return false
		}
		d.ws()
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
		d.ws()
	}
}
