package jaeger

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/spanmem"
	"github.com/weftrace/weft/model"
)

// Jaeger tag types (jaeger.thrift's TagType).
const (
	tagString = 0
	tagDouble = 1
	tagBool   = 2
	tagLong   = 3
	tagBinary = 4
)

// Jaeger reference types (SpanRefType).
const (
	refChildOf     = 0
	refFollowsFrom = 1
)

// refTypeAttr is the link attribute that says which kind of reference a link came from, as OpenTelemetry's Jaeger
// translator names it.
const refTypeAttr = "opentracing.ref_type"

// flagsAttr keeps a span's Jaeger flags when they say more than "sampled" (debug, firehose, or unsampled).
const flagsAttr = "jaeger.flags"

const (
	flagSampled = 1
	usPerNs     = 1000
	maxMicros   = math.MaxInt64 / usPerNs
)

// decoder turns jaeger.thrift Batches into model spans, one request at a time. Spans and their attributes are
// carved out of blocks (spanmem.Blocks) that serve the next request once the consumer has let go of the spans
// (ingest.Released): the attributes of the span (or process, or log) being decoded are appended straight to the
// attribute block, from mark on. Decoders are pooled, with their blocks and their strings (spanmem.Strings: keys
// interned across requests, values copied into blocks, never written again).
type decoder struct {
	norm     ingest.Normalizer
	r        reader
	strs     spanmem.Strings
	batch    ingest.Batch // the consumer's, if any: given each span as it is done
	resource *model.Resource
	spans    []*model.Span
	slab     spanmem.Blocks[model.Span]
	attrs    spanmem.Blocks[model.Attr]
	mark     int // where the current span's (or process's) attributes start in attrs
	refs     []ref
	keyHint  [16]string // the keys of the last tag list's first tags, by position (see key)
}

// Blocks of 32 KiB or so (a size class): 128 spans, 292 attributes.
const (
	spanBlock = 128
	attrBlock = 292
)

var decoders = sync.Pool{New: func() any {
	d := &decoder{}
	d.slab.Size, d.attrs.Size = spanBlock, attrBlock
	return d
}}

// newDecoder gives a decoder for one request's body, in the compact protocol or the binary one, whose spans are
// also added to batch (unless nil) as they are done. Give it back with release once the spans are handed over.
func newDecoder(body []byte, compact bool, batch ingest.Batch) *decoder {
	d := decoders.Get().(*decoder)
	d.start(body, compact, batch)
	return d
}

// start begins a request.
func (d *decoder) start(body []byte, compact bool, batch ingest.Batch) {
	d.r = reader{b: body, compact: compact, lastID: d.r.lastID[:0]}
	d.batch = batch
	d.resource = &model.Resource{}
}

// release ends the decoder's request (see reset) and gives the decoder back to the pool.
func (d *decoder) release(reuse bool) {
	d.reset(reuse)
	decoders.Put(d)
}

// reset ends the decoder's request. With reuse (the consumer released the spans: ingest.Released), the blocks that
// held the spans and their attributes are zeroed and kept for the next request, and so is the slice of span
// pointers; otherwise they are left to the spans' new owner. Strings are never written again either way.
func (d *decoder) reset(reuse bool) {
	d.slab.Reset(reuse)
	d.attrs.Reset(reuse)
	if reuse {
		clear(d.spans)
		d.spans = d.spans[:0]
	} else {
		d.spans = nil
	}
	d.mark = 0
	d.batch = nil
	d.resource = nil
	d.r = reader{lastID: d.r.lastID[:0]}
	d.strs.EndRequest()
	d.refs = d.refs[:0]
}

func badInput(format string, args ...any) error {
	return &ingest.BadInputError{Protocol: "jaeger", Msg: fmt.Sprintf(format, args...)}
}

// decodeBatch decodes a jaeger.thrift Batch, as the jaeger-client libraries' HTTP sender posts it, in the binary
// protocol or, when compact is set, the compact protocol. The batch is taken whole or refused with a
// *ingest.BadInputError that says what was wrong. The spans are the caller's: their memory is never reused.
func decodeBatch(body []byte, compact bool) ([]*model.Span, error) {
	d := newDecoder(body, compact, nil)
	defer d.release(false)
	return d.decode()
}

// decode decodes the decoder's request. The spans live in the decoder's blocks until release.
func (d *decoder) decode() ([]*model.Span, error) {
	if err := d.readBatch(); err != nil {
		return nil, err
	}
	if d.r.left() != 0 {
		return nil, badInput("%d trailing bytes after the batch", d.r.left())
	}
	return d.spans, nil
}

// where wraps an error from reading a part of the batch with the part's name.
func where(part string, err error) error {
	if _, ok := err.(*ingest.BadInputError); ok {
		return err
	}
	return badInput("%s: %v", part, err)
}

// readBatch reads the Batch struct.
func (d *decoder) readBatch() error {
	r := &d.r
	r.structBegin()
	defer r.structEnd()
	var sawProcess, sawSpans bool
	for {
		typ, id, err := r.field()
		if err != nil {
			return where("batch", err)
		}
		if typ == tStop {
			break
		}
		switch {
		case id == 1 && typ == tStruct:
			sawProcess = true
			if err := d.process(); err != nil {
				return where("process", err)
			}
		case id == 2 && typ == tList:
			sawSpans = true
			elem, n, err := r.list()
			if err != nil {
				return where("spans", err)
			}
			if elem != tStruct {
				return badInput("spans: want a list of structs, got elements of thrift type %d", elem)
			}
			for i := 0; i < n; i++ {
				if err := d.span(i); err != nil {
					return where(fmt.Sprintf("span %d", i), err)
				}
			}
		default: // seqNo, stats
			if err := r.skipField(typ, 0); err != nil {
				return where(fmt.Sprintf("batch field %d", id), err)
			}
		}
	}
	switch {
	case !sawProcess:
		return badInput("batch has no process")
	case !sawSpans:
		return badInput("batch has no spans list")
	}
	if d.resource.Service == "" {
		d.resource.Service = "unknown_service"
	}
	return nil
}

// process reads the batch's Process into the Resource all its spans share.
func (d *decoder) process() error {
	r := &d.r
	r.structBegin()
	defer r.structEnd()
	d.attrs.Truncate(d.mark)
	for {
		typ, id, err := r.field()
		if err != nil {
			return err
		}
		if typ == tStop {
			break
		}
		switch {
		case id == 1 && typ == tString:
			b, err := r.binary()
			if err != nil {
				return fmt.Errorf("serviceName: %w", err)
			}
			d.resource.Service = d.strs.Key(b)
		case id == 2 && typ == tList:
			if err := d.tags("tags"); err != nil {
				return err
			}
		default:
			if err := r.skipField(typ, 0); err != nil {
				return err
			}
		}
	}
	d.resource.Attrs = processAttrs(d.attrs.Since(d.mark))
	d.attrs.Truncate(d.mark)
	return nil
}

// processAttrs maps the tags jaeger-client libraries put on a process to resource attributes: hostname →
// host.name, and jaeger.version ("Go-2.30.0") → telemetry.sdk.*. The rest keep their names.
func processAttrs(tags []model.Attr) []model.Attr {
	out := make([]model.Attr, 0, len(tags)+2)
	for _, a := range tags {
		switch a.Key {
		case "hostname":
			a.Key = "host.name"
		case "jaeger.version":
			if lang, version, ok := strings.Cut(a.Value.AsString(), "-"); ok {
				out = append(out,
					model.Attr{Key: "telemetry.sdk.name", Value: model.String("jaeger")},
					model.Attr{Key: "telemetry.sdk.language", Value: model.String(strings.ToLower(lang))},
					model.Attr{Key: "telemetry.sdk.version", Value: model.String(version)})
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// tags reads a list<Tag>, appending to the slab; what names the list in errors.
func (d *decoder) tags(what string) error {
	r := &d.r
	elem, n, err := r.list()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if elem != tStruct {
		return fmt.Errorf("%s: want a list of structs, got elements of thrift type %d", what, elem)
	}
	for i := 0; i < n; i++ {
		var a *model.Attr
		d.mark, a = d.attrs.Next(d.mark)
		if err := d.tag(a, i); err != nil {
			return fmt.Errorf("%s: tag %d: %w", what, i, err)
		}
	}
	return nil
}

// tag reads one Tag, the list's i-th, into *a, which is zero: its key and the value its vType names.
func (d *decoder) tag(a *model.Attr, i int) error {
	r := &d.r
	r.structBegin()
	defer r.structEnd()
	var (
		vType                  int32 = -1
		vStr, vBin             []byte
		vDouble                float64
		vBool                  bool
		vLong                  int64
		hasKey, hasBin, hasDbl bool
		hasBool, hasLong       bool
	)
	for {
		typ, id, err := r.field()
		if err != nil {
			return err
		}
		if typ == tStop {
			break
		}
		switch {
		case id == 1 && typ == tString:
			var k []byte
			if k, err = r.binary(); err == nil {
				a.Key, hasKey = d.key(k, i), true
			}
		case id == 2 && typ == tI32:
			vType, err = r.i32()
		case id == 3 && typ == tString:
			vStr, err = r.binary()
		case id == 4 && typ == tDouble:
			vDouble, err = r.double()
			hasDbl = true
		case id == 5 && typ == tBool:
			vBool, err = r.boolField()
			hasBool = true
		case id == 6 && typ == tI64:
			vLong, err = r.i64()
			hasLong = true
		case id == 7 && typ == tString:
			vBin, err = r.binary()
			hasBin = true
		default:
			err = r.skipField(typ, 0)
		}
		if err != nil {
			return err
		}
	}
	if !hasKey {
		return fmt.Errorf("no key")
	}
	missing := func(field string) error { return fmt.Errorf("%q: vType %d without %s", a.Key, vType, field) }
	switch vType {
	case tagString:
		// Some clients leave vStr out for an empty string.
		a.Value = model.String(d.strs.Value(vStr))
	case tagDouble:
		if !hasDbl {
			return missing("vDouble")
		}
		a.Value = model.Float(vDouble)
	case tagBool:
		if !hasBool {
			return missing("vBool")
		}
		a.Value = model.Bool(vBool)
	case tagLong:
		if !hasLong {
			return missing("vLong")
		}
		a.Value = model.Int(vLong)
	case tagBinary:
		if !hasBin {
			return missing("vBinary")
		}
		a.Value = model.Bytes(vBin)
	case -1:
		return fmt.Errorf("%q: no vType", a.Key)
	default:
		return fmt.Errorf("%q: unknown vType %d", a.Key, vType)
	}
	return nil
}

// key gives the key of the i-th tag of a list. Clients write a kind of span's tags in one order, so a key is most
// often the one at its place in the list before, found by comparing it with that one.
func (d *decoder) key(b []byte, i int) string {
	if i < len(d.keyHint) {
		if h := d.keyHint[i]; len(h) == len(b) && h == string(b) {
			return h
		}
		k := d.strs.Key(b)
		d.keyHint[i] = k
		return k
	}
	return d.strs.Key(b)
}

// ref is a SpanRef as read.
type ref struct {
	typ       int32
	traceLow  int64
	traceHigh int64
	spanID    int64
	has       bool
}

// span reads one Span and appends it to d.spans.
func (d *decoder) span(idx int) error {
	r := &d.r
	r.structBegin()
	defer r.structEnd()
	s := d.slab.New()
	d.attrs.Truncate(d.mark)
	d.refs = d.refs[:0]
	var (
		traceLow, traceHigh, spanID, parentID, start, duration int64
		flags                                                  int32
	)
	for {
		typ, id, err := r.field()
		if err != nil {
			return err
		}
		if typ == tStop {
			break
		}
		var name string
		switch {
		case id == 1 && typ == tI64:
			name = "traceIdLow"
			traceLow, err = r.i64()
		case id == 2 && typ == tI64:
			name = "traceIdHigh"
			traceHigh, err = r.i64()
		case id == 3 && typ == tI64:
			name = "spanId"
			spanID, err = r.i64()
		case id == 4 && typ == tI64:
			name = "parentSpanId"
			parentID, err = r.i64()
		case id == 5 && typ == tString:
			name = "operationName"
			var b []byte
			if b, err = r.binary(); err == nil {
				s.Name = d.strs.Key(b)
			}
		case id == 6 && typ == tList:
			name = "references"
			err = d.references()
		case id == 7 && typ == tI32:
			name = "flags"
			flags, err = r.i32()
		case id == 8 && typ == tI64:
			name = "startTime"
			start, err = r.i64()
		case id == 9 && typ == tI64:
			name = "duration"
			duration, err = r.i64()
		case id == 10 && typ == tList:
			err = d.tags("tags") // names itself
		case id == 11 && typ == tList:
			name = "logs"
			err = d.logs(s)
		default:
			if err = r.skipField(typ, 0); err != nil {
				name = fmt.Sprintf("field %d", id)
			}
		}
		if err != nil {
			if name == "" {
				return err
			}
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	switch {
	case traceLow == 0 && traceHigh == 0:
		return badInput("span %d: trace ID is zero", idx)
	case spanID == 0:
		return badInput("span %d: spanId is zero", idx)
	case duration < 0:
		return badInput("span %d: duration %d is negative", idx, duration)
	case start < 0 || start > maxMicros || duration > maxMicros-start:
		return badInput("span %d: startTime %d and duration %d are out of range", idx, start, duration)
	}
	binary.BigEndian.PutUint64(s.TraceID[:8], uint64(traceHigh))
	binary.BigEndian.PutUint64(s.TraceID[8:], uint64(traceLow))
	binary.BigEndian.PutUint64(s.SpanID[:], uint64(spanID))
	if parentID != 0 {
		binary.BigEndian.PutUint64(s.ParentID[:], uint64(parentID))
	}
	s.Start = start * usPerNs
	s.Duration = duration * usPerNs
	s.Resource = d.resource
	d.applyRefs(s)
	d.spanTags(s)
	if flags != flagSampled {
		d.add(model.Attr{Key: flagsAttr, Value: model.Int(int64(flags))})
	}
	s.Attrs = d.attrs.Since(d.mark)
	d.mark = d.attrs.Len()
	ingest.ExtractCausality(s)
	d.norm.Normalize(s)
	d.spans = append(d.spans, s)
	if d.batch != nil {
		d.batch.Add(s)
	}
	return nil
}

// references reads a list<SpanRef> into d.refs.
func (d *decoder) references() error {
	r := &d.r
	elem, n, err := r.list()
	if err != nil {
		return err
	}
	if elem != tStruct {
		return fmt.Errorf("want a list of structs, got elements of thrift type %d", elem)
	}
	for i := 0; i < n; i++ {
		var f ref
		r.structBegin()
		for {
			typ, id, err := r.field()
			if err != nil {
				r.structEnd()
				return fmt.Errorf("reference %d: %w", i, err)
			}
			if typ == tStop {
				break
			}
			switch {
			case id == 1 && typ == tI32:
				f.typ, err = r.i32()
			case id == 2 && typ == tI64:
				f.traceLow, err = r.i64()
			case id == 3 && typ == tI64:
				f.traceHigh, err = r.i64()
			case id == 4 && typ == tI64:
				f.spanID, err = r.i64()
				f.has = true
			default:
				err = r.skipField(typ, 0)
			}
			if err != nil {
				r.structEnd()
				return fmt.Errorf("reference %d: %w", i, err)
			}
		}
		r.structEnd()
		if f.has && f.spanID != 0 {
			d.refs = append(d.refs, f)
		}
	}
	return nil
}

// applyRefs sets the parent from the references when parentSpanId is zero — the first CHILD_OF in the same trace,
// else the first FOLLOWS_FROM — and makes links of the others, each marked with its reference type.
func (d *decoder) applyRefs(s *model.Span) {
	if len(d.refs) == 0 {
		return
	}
	parent := -1
	if s.ParentID.IsZero() {
		for pass := int32(refChildOf); pass <= refFollowsFrom && parent < 0; pass++ {
			for i, f := range d.refs {
				if f.typ == pass && d.sameTrace(s, f) {
					parent = i
					break
				}
			}
		}
		if parent >= 0 {
			binary.BigEndian.PutUint64(s.ParentID[:], uint64(d.refs[parent].spanID))
		}
	}
	for i, f := range d.refs {
		if i == parent {
			continue
		}
		var l model.Link
		binary.BigEndian.PutUint64(l.TraceID[:8], uint64(f.traceHigh))
		binary.BigEndian.PutUint64(l.TraceID[8:], uint64(f.traceLow))
		binary.BigEndian.PutUint64(l.SpanID[:], uint64(f.spanID))
		if l.SpanID == s.ParentID && l.TraceID == s.TraceID {
			continue // the parent again, as some clients repeat it in references
		}
		kind := "child_of"
		if f.typ == refFollowsFrom {
			kind = "follows_from"
		}
		l.Attrs = []model.Attr{{Key: refTypeAttr, Value: model.String(kind)}}
		s.Links = append(s.Links, l)
	}
}

func (d *decoder) sameTrace(s *model.Span, f ref) bool {
	return binary.BigEndian.Uint64(s.TraceID[8:]) == uint64(f.traceLow) &&
		binary.BigEndian.Uint64(s.TraceID[:8]) == uint64(f.traceHigh)
}

// spanTags takes the tags with a meaning of their own out of the span's attributes: span.kind → Kind; error,
// otel.status_code and otel.status_description → status; otel.scope.* (or otel.library.*) → Scope; and
// w3c.tracestate → TraceState.
func (d *decoder) spanTags(s *model.Span) {
	all := d.attrs.Since(d.mark)
	kept := all[:0]
	isError := false
	for _, a := range all {
		switch a.Key {
		case "span.kind":
			if k := model.ParseKind(a.Value.AsString()); k != model.KindUnspecified {
				s.Kind = k
				continue
			}
		case "error":
			if a.Value.Type == model.TypeBool || a.Value.Type == model.TypeString {
				if v := a.Value.AsString(); v == "true" || v == "false" {
					isError = isError || v == "true"
					continue
				}
			}
		case "otel.status_code":
			switch strings.ToUpper(a.Value.AsString()) {
			case "ERROR":
				isError = true
				continue
			case "OK":
				s.StatusCode = model.StatusOK
				continue
			}
		case "otel.status_description":
			s.StatusMessage = a.Value.AsString()
			continue
		case "otel.scope.name", "otel.library.name":
			s.Scope = a.Value.AsString()
			continue
		case "otel.scope.version", "otel.library.version":
			s.ScopeVersion = a.Value.AsString()
			continue
		case "w3c.tracestate":
			s.TraceState = a.Value.AsString()
			continue
		}
		kept = append(kept, a)
	}
	d.attrs.Truncate(d.mark + len(kept))
	if isError {
		s.StatusCode = model.StatusError
		if s.StatusMessage == "" {
			s.StatusMessage = errorMessage(s.Events)
		}
	}
}

// errorMessage finds what an OpenTracing client logged about the error: the message or error.object field of
// the log named "error".
func errorMessage(events []model.Event) string {
	for _, e := range events {
		if e.Name != "error" {
			continue
		}
		for _, key := range []string{"message", "error.object", "error.message"} {
			for _, a := range e.Attrs {
				if a.Key == key {
					return a.Value.AsString()
				}
			}
		}
	}
	return ""
}

// logs reads a list<Log> into the span's events. The event's name is its "event" field, which is then not kept
// as an attribute, else its "message" field.
func (d *decoder) logs(s *model.Span) error {
	r := &d.r
	elem, n, err := r.list()
	if err != nil {
		return err
	}
	if elem != tStruct {
		return fmt.Errorf("want a list of structs, got elements of thrift type %d", elem)
	}
	// The log fields are read with d.tags, which appends to the attribute block; they are copied out after each
	// log. The span's attributes so far may move to a new block as they grow, so the log's fields are found by
	// their offset from mark.
	rel := d.attrs.Len() - d.mark
	for i := 0; i < n; i++ {
		var e model.Event
		var ts int64
		r.structBegin()
		for {
			typ, id, err := r.field()
			if err != nil {
				r.structEnd()
				return fmt.Errorf("log %d: %w", i, err)
			}
			if typ == tStop {
				break
			}
			switch {
			case id == 1 && typ == tI64:
				ts, err = r.i64()
			case id == 2 && typ == tList:
				err = d.tags("fields")
			default:
				err = r.skipField(typ, 0)
			}
			if err != nil {
				r.structEnd()
				return fmt.Errorf("log %d: %w", i, err)
			}
		}
		r.structEnd()
		if ts < 0 || ts > maxMicros {
			return fmt.Errorf("log %d: timestamp %d out of range", i, ts)
		}
		e.Time = ts * usPerNs
		fields := d.attrs.Since(d.mark)[rel:]
		nameAt := -1
		for j, a := range fields {
			if a.Key == "event" {
				nameAt = j
				break
			}
			if a.Key == "message" && nameAt < 0 {
				nameAt = j
			}
		}
		if nameAt >= 0 {
			e.Name = fields[nameAt].Value.AsString()
		}
		if len(fields) > 0 {
			e.Attrs = make([]model.Attr, 0, len(fields))
			for j, a := range fields {
				if j != nameAt || a.Key != "event" {
					e.Attrs = append(e.Attrs, a)
				}
			}
		}
		d.attrs.Truncate(d.mark + rel)
		s.Events = append(s.Events, e)
	}
	return nil
}

// add appends an attribute of the current span, process or log.
func (d *decoder) add(a model.Attr) { d.mark = d.attrs.Append(d.mark, a) }
