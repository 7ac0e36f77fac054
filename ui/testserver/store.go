package main

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded"
)

// load converts the generated traces (written in Jaeger's terms, as a client would see them) into weft's span
// model, as a receiver would, and stores them in weft serve's embedded store under dir. The head is then written
// to blocks and compacted, so that the pages read traces from blocks on disk, as a server that has run for a
// while does (nothing is in the head or in the store's caches when the tests start).
func (d *data) load(dir string) (*embedded.Store, error) {
	st, err := embedded.Open(dir, embedded.Options{CompactInterval: -1})
	if err != nil {
		return nil, err
	}
	resources := map[string]*model.Resource{}
	for name, p := range processes {
		resources[name] = &model.Resource{Service: name, Attrs: attrs(p.Tags)}
	}
	for _, t := range d.traces {
		spans := make([]*model.Span, 0, len(t.Spans))
		for _, s := range t.Spans {
			spans = append(spans, toModel(s, resources[s.service]))
		}
		if err := st.Write(context.Background(), spans); err != nil {
			st.Close()
			return nil, err
		}
	}
	st.Seal(0)
	if err := st.Flush(); err != nil {
		st.Close()
		return nil, err
	}
	if err := st.Compact(); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func attrs(tags []kv) []model.Attr {
	out := make([]model.Attr, 0, len(tags))
	for _, t := range tags {
		var v model.Value
		switch x := t.Value.(type) {
		case string:
			v = model.String(x)
		case int64:
			v = model.Int(x)
		case bool:
			v = model.Bool(x)
		default:
			continue
		}
		out = append(out, model.Attr{Key: t.Key, Value: v})
	}
	return out
}

func unitOf(s string) uint64 {
	u, _ := strconv.ParseUint(s, 16, 64)
	return u
}

func refOf(s string) model.EventRef {
	u, seq, ok := strings.Cut(s, ":")
	if !ok {
		return model.EventRef{}
	}
	n, _ := strconv.ParseUint(seq, 10, 32)
	return model.EventRef{Unit: unitOf(u), Seq: uint32(n)}
}

func toModel(s *jspan, res *model.Resource) *model.Span {
	m := &model.Span{Name: s.OperationName, Start: s.StartTime * 1000, Duration: s.Duration * 1000, Resource: res}
	hex.Decode(m.TraceID[:], []byte(s.TraceID))
	hex.Decode(m.SpanID[:], []byte(s.SpanID))
	if len(s.References) > 0 {
		hex.Decode(m.ParentID[:], []byte(s.References[0].SpanID))
	}
	for _, t := range s.Tags {
		str, _ := t.Value.(string)
		num, _ := t.Value.(int64)
		switch t.Key {
		case "span.kind":
			m.Kind = model.ParseKind(str)
		case "error":
			m.StatusCode = model.StatusError
		case "otel.status_code":
		case "otel.status_description":
			m.StatusMessage = str
		case "weft.unit":
			m.Causality.Unit = unitOf(str)
		case "weft.seq.start":
			m.Causality.StartSeq = uint32(num)
		case "weft.seq.end":
			m.Causality.EndSeq = uint32(num)
		case "weft.cause":
			m.Causality.StartCause = refOf(str)
		default:
			m.Attrs = append(m.Attrs, attrs([]kv{t})...)
		}
	}
	for _, l := range s.Logs {
		e := model.Event{Time: l.Timestamp * 1000}
		for _, f := range l.Fields {
			str, _ := f.Value.(string)
			num, _ := f.Value.(int64)
			switch f.Key {
			case "event":
				e.Name = str
			case "weft.seq":
				e.Seq = uint32(num)
			case "weft.unit":
				e.Unit = unitOf(str)
			case "weft.cause":
				e.Cause = refOf(str)
			default:
				e.Attrs = append(e.Attrs, attrs([]kv{f})...)
			}
		}
		m.Events = append(m.Events, e)
	}
	return m
}
