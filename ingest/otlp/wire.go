package otlp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// DecodeProto decodes an ExportTraceServiceRequest (or TracesData) in protobuf straight into model spans, without
// the official generated types in between: the hot path of OTLP/HTTP ingest. It gives exactly what UnmarshalProto
// followed by the conversion gives (a test holds it to that): spans with invalid IDs are refused alone and counted
// in rejected, with the first reason; a payload that is not valid protobuf, or has a string that is not UTF-8,
// fails whole with a *ingest.BadInputError.
func DecodeProto(b []byte) (spans []*model.Span, rejected int64, reason string, err error) {
	d, err := decodeWire(b, nil)
	if err != nil {
		return nil, 0, "", err
	}
	return d.spans, d.rejected, d.reason, nil
}

// decodeWire is DecodeProto; every span it gives is also added to batch (unless nil) as soon as it is decoded. The
// spans are the caller's: their memory is never reused.
func decodeWire(b []byte, batch ingest.Batch) (decoded, error) {
	w := newWireDecoder(batch)
	defer w.release(false)
	return w.decode(b)
}

// decoders keeps wireDecoders between requests: their string caches, and the span and attribute blocks of the
// requests whose consumer let go of the spans (ingest.Released).
var decoders = sync.Pool{New: func() any { return &wireDecoder{intern: make(map[string]string, 64)} }}

// newWireDecoder gives a decoder for one request, whose spans are also added to batch (unless nil) as they are
// decoded. Give it back with release once the spans are handed over and the answer no longer needs them.
func newWireDecoder(batch ingest.Batch) *wireDecoder {
	w := decoders.Get().(*wireDecoder)
	w.batch = batch
	return w
}

// decode decodes one request. The spans live in the decoder's blocks until release.
func (w *wireDecoder) decode(b []byte) (decoded, error) {
	if err := w.request(b); err != nil {
		return decoded{}, &ingest.BadInputError{Protocol: "otlp", Msg: "body is not a valid ExportTraceServiceRequest in protobuf: " + err.Error()}
	}
	return w.d, nil
}

// release ends the decoder's request (see reset) and gives the decoder back to the pool.
func (w *wireDecoder) release(reuse bool) {
	w.reset(reuse)
	decoders.Put(w)
}

// reset ends the decoder's request. With reuse (the consumer released the spans: ingest.Released), the blocks that
// held the spans, their attributes, events and links are zeroed and kept for the next request, and so is the slice
// of span pointers; otherwise they are left to the spans' new owner. The string caches are kept either way, since
// strings are never written again (the blocks of values are dropped from the cache, so that an idle decoder keeps
// at most one of them alive).
func (w *wireDecoder) reset(reuse bool) {
	w.spans.reset(reuse)
	w.attrs.reset(reuse)
	w.events.reset(reuse)
	w.links.reset(reuse)
	if reuse {
		clear(w.d.spans)
		w.d = decoded{spans: w.d.spans[:0]}
	} else {
		w.d = decoded{}
	}
	w.ri, w.si = 0, 0
	w.batch = nil
	if len(w.intern) >= maxIntern || w.internBytes >= maxInternBytes {
		clear(w.intern)
		w.recent = [recentSlots]string{}
		w.internBytes = 0
	}
	w.values.recent = [recentSlots]string{}
}

type wireDecoder struct {
	d decoded
	// The memory of the request's spans, and of their attributes (the current block's free end is where the next
	// span's attributes are decoded), events and links.
	spans       blockList[model.Span]
	attrs       blockList[model.Attr]
	events      blockList[model.Event]
	links       blockList[model.Link]
	intern      map[string]string
	internBytes int
	recent      [recentSlots]string // a direct-mapped cache in front of intern, which needs no hashing of the whole string
	values      valueStrings
	norm        ingest.Normalizer
	ri, si      int          // indexes of the current resource and scope spans, for reasons
	batch       ingest.Batch // the consumer's, if any: given each span as it is done
	// keyHint holds the keys of the last span's first attributes, by position: SDKs write the attributes of a
	// kind of span in one order, so a key is most often the one before it at its place, found without hashing.
	keyHint [keyHints]string
}

// A request's spans and their attributes, events and links are allocated in blocks (of 32 KiB, a size class) that
// live and die together: a request is taken whole, and one large block costs the allocator and the garbage
// collector less than a slice per span (10 attributes are a 1,120-byte object with pointers). When the consumer lets
// go of the spans, the blocks serve the next request of the decoder.
const (
	spanBlock     = 99
	attrBlock     = 341
	eventBlock    = 341
	linkBlock     = 512
	attrSpare     = 24 // a span starts in the current attribute block only if this many slots are left
	maxFreeBlocks = 64 // of each kind kept by an idle decoder: 2 MiB
)

// keyHints is how many of a span's first attributes have their key remembered by position.
const keyHints = 16

// The intern map outlives a request; past these bounds it starts again empty at the next request.
const (
	maxIntern      = 4096
	maxInternBytes = 256 << 10
)

// blockList hands out the memory of one kind of element of a request in blocks of one size.
type blockList[T any] struct {
	cur  []T   // the block being filled: len is what is taken; the rest of cap is free, and zero
	full [][]T // the request's earlier blocks
	free [][]T // zeroed blocks, from requests before whose consumer let go of them
}

// grow starts a new block of size elements, a free one if there is one.
func (l *blockList[T]) grow(size int) {
	if l.cur != nil {
		l.full = append(l.full, l.cur)
	}
	if n := len(l.free); n > 0 {
		l.cur = l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		return
	}
	l.cur = make([]T, 0, size)
}

// take gives n zero elements as a slice of length 0 and capacity n, to append to: from the current block, or a new
// one (of size elements) when it has not n left, or a slice of their own when n is more than a quarter of a block.
func (l *blockList[T]) take(n, size int) []T {
	if n > size/4 {
		return make([]T, 0, n)
	}
	if cap(l.cur)-len(l.cur) < n {
		l.grow(size)
	}
	i := len(l.cur)
	l.cur = l.cur[:i+n]
	return l.cur[i : i : i+n]
}

// reset ends a request. With reuse, the request's blocks are zeroed (up to their length: past it they are zero
// already) and kept, up to maxFreeBlocks; otherwise they are left to whoever holds the spans.
func (l *blockList[T]) reset(reuse bool) {
	if reuse && l.cur != nil {
		l.full = append(l.full, l.cur)
	}
	for _, b := range l.full {
		if reuse {
			clear(b) // the elements, and through them what they point at
			if len(l.free) < maxFreeBlocks {
				l.free = append(l.free, b[:0])
			}
		}
	}
	clear(l.full)
	l.full = l.full[:0]
	l.cur = nil
}

var (
	errUTF8  = errors.New("string field contains invalid UTF-8")
	errDepth = errors.New("values nested too deep")
)

// maxWireDepth bounds the nesting of attribute values that is decoded at all (protobuf-go allows 10,000 levels
// of messages; weft keeps 32 and refuses past this).
const maxWireDepth = 1000

// field reads one field: its number, wire type, and value (v for varint and fixed, data for bytes). Groups are
// skipped whole; as protobuf-go does, a field with an unexpected wire type is skipped as unknown by the callers.
// What OTLP mostly holds (a one-byte tag, then a one- or two-byte length, a one-byte varint, or a fixed64) is read
// here without protowire's general functions; the rest goes to fieldSlow.
func field(b []byte) (num protowire.Number, typ protowire.Type, v uint64, data []byte, n int, err error) {
	if len(b) >= 2 && b[0] >= 8 && b[0] < 0x80 { // a one-byte tag with a field number from 1 to 15
		num, typ = protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
		switch typ {
		case protowire.BytesType:
			if l := b[1]; l < 0x80 && 2+int(l) <= len(b) {
				return num, typ, 0, b[2 : 2+int(l)], 2 + int(l), nil
			}
			if len(b) >= 3 && b[1] >= 0x80 && b[2] < 0x80 { // a two-byte length: a span, mostly
				if l := int(b[1]&0x7f) | int(b[2])<<7; 3+l <= len(b) {
					return num, typ, 0, b[3 : 3+l], 3 + l, nil
				}
			}
		case protowire.VarintType:
			if x := b[1]; x < 0x80 {
				return num, typ, uint64(x), nil, 2, nil
			}
		case protowire.Fixed64Type:
			if len(b) >= 9 {
				return num, typ, binary.LittleEndian.Uint64(b[1:9]), nil, 9, nil
			}
		}
	}
	return fieldSlow(b)
}

// fieldSlow is field for any tag and value.
func fieldSlow(b []byte) (num protowire.Number, typ protowire.Type, v uint64, data []byte, n int, err error) {
	num, typ, tn := protowire.ConsumeTag(b)
	if tn < 0 {
		return 0, 0, 0, nil, 0, protowire.ParseError(tn)
	}
	if num > protowire.MaxValidNumber {
		return 0, 0, 0, nil, 0, fmt.Errorf("field number %d is out of range", num)
	}
	var m int
	switch typ {
	case protowire.VarintType:
		v, m = protowire.ConsumeVarint(b[tn:])
	case protowire.Fixed64Type:
		v, m = protowire.ConsumeFixed64(b[tn:])
	case protowire.Fixed32Type:
		var v32 uint32
		v32, m = protowire.ConsumeFixed32(b[tn:])
		v = uint64(v32)
	case protowire.BytesType:
		data, m = protowire.ConsumeBytes(b[tn:])
	default:
		m = protowire.ConsumeFieldValue(num, typ, b[tn:])
	}
	if m < 0 {
		return 0, 0, 0, nil, 0, protowire.ParseError(m)
	}
	return num, typ, v, data, tn + m, nil
}

func (w *wireDecoder) str(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errUTF8
	}
	return string(b), nil
}

// internStr is str for strings that repeat across spans (keys, names): one copy per request.
func (w *wireDecoder) internStr(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	slot := &w.recent[slotOf(b)]
	if sameText(*slot, b) {
		return *slot, nil
	}
	if s, ok := w.intern[string(b)]; ok {
		*slot = s
		return s, nil
	}
	if !utf8.Valid(b) {
		return "", errUTF8
	}
	s := string(b)
	if len(w.intern) < maxIntern {
		w.intern[s] = s
		w.internBytes += len(s)
		*slot = s
	}
	return s, nil
}

func (w *wireDecoder) request(b []byte) error {
	for len(b) > 0 {
		num, typ, _, data, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			if err := w.resourceSpans(data); err != nil {
				return err
			}
			w.ri++
		}
	}
	return nil
}

// resourceSpans reads the resource first, wherever it is in the message, so that its spans can point at it.
func (w *wireDecoder) resourceSpans(b []byte) error {
	res := &model.Resource{}
	var dropped uint32
	for rest := b; len(rest) > 0; {
		num, typ, _, data, n, err := field(rest)
		if err != nil {
			return err
		}
		rest = rest[n:]
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			if err := w.resource(data, res, &dropped); err != nil {
				return err
			}
		case 3:
			if !utf8.Valid(data) {
				return errUTF8
			}
		}
	}
	if dropped > 0 {
		res.Attrs = append(res.Attrs, model.Attr{Key: AttrDroppedAttributes, Value: model.Int(int64(dropped))})
	}
	if res.Service == "" {
		res.Service = unknownService
	}
	if len(res.Attrs) == 0 {
		res.Attrs = nil
	}
	w.si = 0
	for len(b) > 0 {
		num, typ, _, data, n, _ := field(b)
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			if err := w.scopeSpans(data, res); err != nil {
				return err
			}
			w.si++
		}
	}
	return nil
}

func (w *wireDecoder) resource(b []byte, res *model.Resource, dropped *uint32) error {
	for len(b) > 0 {
		num, typ, v, data, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			a, err := w.keyValue(data, 0)
			if err != nil {
				return err
			}
			if a.Key == "service.name" && res.Service == "" && a.Value.Type == model.TypeString {
				res.Service = a.Value.Str
				continue
			}
			res.Attrs = append(res.Attrs, a)
		case num == 2 && typ == protowire.VarintType:
			*dropped = uint32(v)
		case num == 3 && typ == protowire.BytesType:
			if err := validateEntityRef(data); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateEntityRef checks the strings of a resource's entity reference, which weft does not keep, so that a
// payload is refused exactly when the official decoder refuses it.
func validateEntityRef(b []byte) error {
	for len(b) > 0 {
		num, typ, _, data, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if num >= 1 && num <= 4 && typ == protowire.BytesType && !utf8.Valid(data) {
			return errUTF8
		}
	}
	return nil
}

func (w *wireDecoder) scopeSpans(b []byte, res *model.Resource) error {
	var scope, version string
	for rest := b; len(rest) > 0; {
		num, typ, _, data, n, err := field(rest)
		if err != nil {
			return err
		}
		rest = rest[n:]
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			if err := w.scope(data, &scope, &version); err != nil {
				return err
			}
		case 3:
			if !utf8.Valid(data) {
				return errUTF8
			}
		}
	}
	pi := 0
	for len(b) > 0 {
		num, typ, _, data, n, _ := field(b)
		b = b[n:]
		if num != 2 || typ != protowire.BytesType {
			continue
		}
		s := &w.spans.take(1, spanBlock)[:1][0]
		msg, err := w.span(data, s)
		if err != nil {
			return err
		}
		if msg != "" {
			*s = model.Span{}
			w.spans.cur = w.spans.cur[:len(w.spans.cur)-1] // the slot is the last taken
			w.d.reject("resourceSpans[%d].scopeSpans[%d].spans[%d]: %s", w.ri, w.si, pi, msg)
		} else {
			s.Resource, s.Scope, s.ScopeVersion = res, scope, version
			ingest.ExtractCausality(s)
			w.norm.Normalize(s)
			w.d.spans = append(w.d.spans, s)
			if w.batch != nil {
				w.batch.Add(s)
			}
		}
		pi++
	}
	return nil
}

func (w *wireDecoder) scope(b []byte, name, version *string) error {
	for len(b) > 0 {
		num, typ, _, data, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			if *name, err = w.internStr(data); err != nil {
				return err
			}
		case 2:
			if *version, err = w.internStr(data); err != nil {
				return err
			}
		case 3:
			if _, err := w.keyValue(data, 0); err != nil { // scope attributes are not kept, but must be valid
				return err
			}
		}
	}
	return nil
}

// span fills s from one Span message. A malformed message is an error; a well-formed span that weft refuses
// (invalid IDs, times past 2^63) gives a reason instead.
func (w *wireDecoder) span(b []byte, s *model.Span) (reason string, err error) {
	var traceID, spanID, parentID []byte
	var start, end uint64
	var droppedAttrs, droppedEvents, droppedLinks uint32
	var statusCode int32
	var linkErr string
	// The attributes are appended in place at the free end of the current block; a span with more than the block
	// has left moves to a slice of its own as append grows it, and takeAttrs sees that.
	if cap(w.attrs.cur)-len(w.attrs.cur) < attrSpare {
		w.attrs.grow(attrBlock)
	}
	s.Attrs = w.attrs.cur[len(w.attrs.cur):len(w.attrs.cur)]
	defer w.takeAttrs(s)
	for len(b) > 0 {
		num, typ, v, data, n, err := field(b)
		if err != nil {
			return "", err
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			switch num {
			case 1:
				traceID = data
			case 2:
				spanID = data
			case 3:
				if s.TraceState, err = w.str(data); err != nil {
					return "", err
				}
			case 4:
				parentID = data
			case 5:
				if s.Name, err = w.internStr(data); err != nil {
					return "", err
				}
			case 9:
				// Decoded in place: the slot past the slice's length is zero, as keyValueInto wants (the block is
				// only ever taken from its free end, and append clears what it adds). The attributes that follow
				// in a row with a one-byte length are taken here too, without going round the field loop.
				for {
					n := len(s.Attrs)
					if n < cap(s.Attrs) {
						s.Attrs = s.Attrs[:n+1]
					} else {
						s.Attrs = append(s.Attrs, model.Attr{})
					}
					if err := w.keyValueInto(data, &s.Attrs[n], 0, n); err != nil {
						return "", err
					}
					if len(b) < 2 || b[0] != 9<<3|byte(protowire.BytesType) || b[1] >= 0x80 || 2+int(b[1]) > len(b) {
						break
					}
					data, b = b[2:2+int(b[1])], b[2+int(b[1]):]
				}
			case 11:
				e, err := w.event(data)
				if err != nil {
					return "", err
				}
				if s.Events == nil {
					s.Events = w.events.take(1+countBytesFields(b, 11), eventBlock)
				}
				s.Events = append(s.Events, e)
			case 13:
				l, msg, err := w.link(data)
				if err != nil {
					return "", err
				}
				if s.Links == nil {
					s.Links = w.links.take(1+countBytesFields(b, 13), linkBlock)
				}
				if msg != "" && linkErr == "" {
					linkErr = fmt.Sprintf("links[%d].%s", len(s.Links), msg)
				}
				s.Links = append(s.Links, l)
			case 15:
				if err := w.status(data, &statusCode, &s.StatusMessage); err != nil {
					return "", err
				}
			}
		case protowire.VarintType:
			switch num {
			case 6:
				if k := int32(v); k >= 0 && k <= 5 {
					s.Kind = model.Kind(k)
				} else {
					s.Kind = model.KindUnspecified
				}
			case 10:
				droppedAttrs = uint32(v)
			case 12:
				droppedEvents = uint32(v)
			case 14:
				droppedLinks = uint32(v)
			}
		case protowire.Fixed64Type:
			switch num {
			case 7:
				start = v
			case 8:
				end = v
			}
		}
	}
	var ok bool
	if s.TraceID, ok = traceID16(traceID); !ok {
		return fmt.Sprintf("traceId must be 16 bytes and not all zero, got %d bytes %x", len(traceID), traceID), nil
	}
	if s.SpanID, ok = spanID8(spanID); !ok {
		return fmt.Sprintf("spanId must be 8 bytes and not all zero, got %d bytes %x", len(spanID), spanID), nil
	}
	if len(parentID) != 0 {
		if len(parentID) != 8 {
			return fmt.Sprintf("parentSpanId must be 8 bytes or empty, got %d bytes", len(parentID)), nil
		}
		copy(s.ParentID[:], parentID)
	}
	if start > math.MaxInt64 || end > math.MaxInt64 {
		return "startTimeUnixNano and endTimeUnixNano must be below 2^63", nil
	}
	s.Start = int64(start)
	if end > start {
		s.Duration = int64(end - start)
	}
	switch statusCode {
	case 1:
		s.StatusCode = model.StatusOK
	case 2:
		s.StatusCode = model.StatusError
	}
	for i := range s.Events {
		if s.Events[i].Time < 0 {
			return fmt.Sprintf("events[%d].timeUnixNano must be below 2^63", i), nil
		}
	}
	if linkErr != "" {
		return linkErr, nil
	}
	if droppedAttrs > 0 {
		s.Attrs = append(s.Attrs, model.Attr{Key: AttrDroppedAttributes, Value: model.Int(int64(droppedAttrs))})
	}
	if droppedEvents > 0 {
		s.Attrs = append(s.Attrs, model.Attr{Key: AttrDroppedEvents, Value: model.Int(int64(droppedEvents))})
	}
	if droppedLinks > 0 {
		s.Attrs = append(s.Attrs, model.Attr{Key: AttrDroppedLinks, Value: model.Int(int64(droppedLinks))})
	}
	return "", nil
}

// takeAttrs closes a span's attributes: if they are still in the current block, the block's used part grows past
// them and their capacity ends at their length, so that a later append (ExtractCausality, Normalize) copies rather
// than writes over the next span's. A rejected span is zeroed by the caller and its slots are simply not reused
// (until release zeroes the block). Attributes that outgrew the block moved to a slice of their own; the slots
// they were decoded into first are zeroed, since the next span is decoded into them and wants them zero.
func (w *wireDecoder) takeAttrs(s *model.Span) {
	n := len(s.Attrs)
	cur := w.attrs.cur
	used := len(cur)
	if n > 0 && n <= cap(cur)-used && &s.Attrs[0] == &cur[used : used+1][0] {
		w.attrs.cur = cur[:used+n]
	} else if n > cap(cur)-used {
		clear(cur[used:cap(cur)])
	}
	if n == 0 {
		s.Attrs = nil
		return
	}
	s.Attrs = s.Attrs[:n:n]
}

// countBytesFields counts the length-delimited fields numbered num in b, so that a repeated field's slice is made
// once at its size; it stops at anything malformed, which the caller then finds.
func countBytesFields(b []byte, num protowire.Number) int {
	n := 0
	for len(b) > 0 {
		fn, typ, _, _, m, err := field(b)
		if err != nil {
			break
		}
		b = b[m:]
		if fn == num && typ == protowire.BytesType {
			n++
		}
	}
	return n
}

func traceID16(b []byte) (model.TraceID, bool) {
	var t model.TraceID
	if len(b) != 16 {
		return t, false
	}
	copy(t[:], b)
	return t, !t.IsZero()
}

func spanID8(b []byte) (model.SpanID, bool) {
	var s model.SpanID
	if len(b) != 8 {
		return s, false
	}
	copy(s[:], b)
	return s, !s.IsZero()
}

func (w *wireDecoder) status(b []byte, code *int32, msg *string) error {
	for len(b) > 0 {
		num, typ, v, data, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.BytesType:
			if *msg, err = w.str(data); err != nil {
				return err
			}
		case num == 3 && typ == protowire.VarintType:
			*code = int32(v)
		}
	}
	return nil
}

// event reads a Span.Event; a time past 2^63 is left negative for span to refuse.
func (w *wireDecoder) event(b []byte) (model.Event, error) {
	var e model.Event
	var dropped uint32
	for len(b) > 0 {
		num, typ, v, data, n, err := field(b)
		if err != nil {
			return e, err
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			e.Time = int64(v)
			if v > math.MaxInt64 {
				e.Time = -1
			}
		case num == 2 && typ == protowire.BytesType:
			if e.Name, err = w.internStr(data); err != nil {
				return e, err
			}
		case num == 3 && typ == protowire.BytesType:
			a, err := w.keyValue(data, 0)
			if err != nil {
				return e, err
			}
			e.Attrs = append(e.Attrs, a)
		case num == 4 && typ == protowire.VarintType:
			dropped = uint32(v)
		}
	}
	if dropped > 0 {
		e.Attrs = append(e.Attrs, model.Attr{Key: AttrDroppedAttributes, Value: model.Int(int64(dropped))})
	}
	return e, nil
}

func (w *wireDecoder) link(b []byte) (model.Link, string, error) {
	var l model.Link
	var traceID, spanID []byte
	for len(b) > 0 {
		num, typ, _, data, n, err := field(b)
		if err != nil {
			return l, "", err
		}
		b = b[n:]
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			traceID = data
		case 2:
			spanID = data
		case 3:
			if l.TraceState, err = w.str(data); err != nil {
				return l, "", err
			}
		case 4:
			a, err := w.keyValue(data, 0)
			if err != nil {
				return l, "", err
			}
			l.Attrs = append(l.Attrs, a)
		}
	}
	var ok bool
	if l.TraceID, ok = traceID16(traceID); !ok {
		return l, "traceId must be 16 bytes and not all zero", nil
	}
	if l.SpanID, ok = spanID8(spanID); !ok {
		return l, "spanId must be 8 bytes and not all zero", nil
	}
	return l, "", nil
}

func (w *wireDecoder) keyValue(b []byte, depth int) (model.Attr, error) {
	var a model.Attr
	err := w.keyValueInto(b, &a, depth, -1)
	return a, err
}

// keyValueInto decodes a KeyValue into *a, which must be zero. pos is the attribute's index in its span's
// attributes, or -1 for any other KeyValue.
func (w *wireDecoder) keyValueInto(b []byte, a *model.Attr, depth, pos int) error {
	// The shape SDKs write: the key (field 1), then the value (field 2) holding one string, int, double or bool,
	// each length under 128. It is read here in one go; anything else takes the general loop below.
	if len(b) >= 4 && b[0] == 0x0a && b[1] < 0x80 {
		kEnd := 2 + int(b[1])
		if kEnd+2 <= len(b) && b[kEnd] == 0x12 && b[kEnd+1] < 0x80 && int(b[kEnd+1]) == len(b)-kEnd-2 {
			var key string
			if uint(pos) < keyHints && sameText(w.keyHint[pos], b[2:kEnd]) {
				key = w.keyHint[pos]
			} else {
				var err error
				if key, err = w.internStr(b[2:kEnd]); err != nil {
					return err
				}
				if uint(pos) < keyHints {
					w.keyHint[pos] = key
				}
			}
			if ok, err := w.scalarValue(b[kEnd+2:], &a.Value); ok || err != nil {
				a.Key = key
				return err
			}
		}
	}
	for len(b) > 0 {
		num, typ, _, data, n, err := field(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			if a.Key, err = w.internStr(data); err != nil {
				return err
			}
		case 2:
			// A repeated message field merges; for AnyValue, whose fields are one oneof, the last one set wins.
			if a.Value, err = w.anyValue(data, depth, a.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// scalarValue reads an AnyValue made of exactly one string (shorter than 128 bytes), int, double or bool field
// into *v, which must be zero, and reports whether it was one; when it was not, *v is untouched.
func (w *wireDecoder) scalarValue(b []byte, v *model.Value) (bool, error) {
	if len(b) < 2 {
		return false, nil
	}
	switch b[0] {
	case 0x0a: // string_value
		if l := b[1]; l < 0x80 && int(l) == len(b)-2 {
			s, err := w.values.str(b[2:])
			if err != nil {
				return false, err
			}
			v.Type, v.Str = model.TypeString, s
			return true, nil
		}
	case 0x18: // int_value
		if x, n := protowire.ConsumeVarint(b[1:]); n == len(b)-1 {
			v.Type, v.Num = model.TypeInt, x
			return true, nil
		}
	case 0x21: // double_value
		if len(b) == 9 {
			v.Type, v.Num = model.TypeFloat, binary.LittleEndian.Uint64(b[1:])
			return true, nil
		}
	case 0x10: // bool_value
		if x, n := protowire.ConsumeVarint(b[1:]); n == len(b)-1 {
			v.Type = model.TypeBool
			if x != 0 {
				v.Num = 1
			}
			return true, nil
		}
	}
	return false, nil
}

// anyValue reads an AnyValue into prev (a second occurrence of the same field merges into the first).
func (w *wireDecoder) anyValue(b []byte, depth int, prev model.Value) (model.Value, error) {
	if depth > maxWireDepth {
		return model.Value{}, errDepth
	}
	v := prev
	for len(b) > 0 {
		num, typ, x, data, n, err := field(b)
		if err != nil {
			return v, err
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, err := w.values.str(data)
			if err != nil {
				return v, err
			}
			v = model.String(s)
		case num == 2 && typ == protowire.VarintType:
			v = model.Bool(x != 0)
		case num == 3 && typ == protowire.VarintType:
			v = model.Int(int64(x))
		case num == 4 && typ == protowire.Fixed64Type:
			v = model.Float(math.Float64frombits(x))
		case num == 5 && typ == protowire.BytesType:
			var prevArr []model.Value
			if v.Type == model.TypeArray {
				prevArr = v.Array
			}
			arr, err := w.array(data, depth+1, prevArr)
			if err != nil {
				return v, err
			}
			v = model.Value{Type: model.TypeArray, Array: arr}
		case num == 6 && typ == protowire.BytesType:
			var prevMap []model.Attr
			if v.Type == model.TypeMap {
				prevMap = v.Map
			}
			m, err := w.kvlist(data, depth+1, prevMap)
			if err != nil {
				return v, err
			}
			v = model.Value{Type: model.TypeMap, Map: m}
		case num == 7 && typ == protowire.BytesType:
			v = model.Bytes(data)
		case num == 8 && typ == protowire.VarintType:
			v = model.Value{} // string_value_strindex: a profiles dictionary index, meaningless here
		}
	}
	if depth >= maxValueDepth && (v.Type == model.TypeArray || v.Type == model.TypeMap) {
		return model.Value{}, nil
	}
	return v, nil
}

func (w *wireDecoder) array(b []byte, depth int, prev []model.Value) ([]model.Value, error) {
	out := prev
	if out == nil {
		out = []model.Value{}
	}
	for len(b) > 0 {
		num, typ, _, data, n, err := field(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, err := w.anyValue(data, depth, model.Value{})
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func (w *wireDecoder) kvlist(b []byte, depth int, prev []model.Attr) ([]model.Attr, error) {
	out := prev
	if out == nil {
		out = []model.Attr{}
	}
	for len(b) > 0 {
		num, typ, _, data, n, err := field(b)
		if err != nil {
			return nil, err
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			a, err := w.keyValue(data, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	return out, nil
}
