package datadog

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// ddSpan is a span as Datadog's tracers build it, the documented structure from which the tests encode their
// payloads.
type ddSpan struct {
	Service, Name, Resource, Type string
	TraceID, SpanID, ParentID     uint64
	Start, Duration               int64
	Error                         int32
	Meta                          map[string]string
	Metrics                       map[string]float64
}

// encodeV04 writes traces as the v0.4 msgpack payload, with map keys in sorted order so that the bytes are the
// same on every run.
func encodeV04(t testing.TB, traces [][]ddSpan) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.EncodeArrayLen(len(traces)))
	for _, tr := range traces {
		must(e.EncodeArrayLen(len(tr)))
		for _, s := range tr {
			must(e.EncodeMapLen(12))
			str := func(k, v string) { must(e.EncodeString(k)); must(e.EncodeString(v)) }
			str("service", s.Service)
			str("name", s.Name)
			str("resource", s.Resource)
			must(e.EncodeString("trace_id"))
			must(e.EncodeUint(s.TraceID))
			must(e.EncodeString("span_id"))
			must(e.EncodeUint(s.SpanID))
			must(e.EncodeString("parent_id"))
			must(e.EncodeUint(s.ParentID))
			must(e.EncodeString("start"))
			must(e.EncodeInt(s.Start))
			must(e.EncodeString("duration"))
			must(e.EncodeInt(s.Duration))
			must(e.EncodeString("error"))
			must(e.EncodeInt(int64(s.Error)))
			must(e.EncodeString("meta"))
			must(e.EncodeMapLen(len(s.Meta)))
			for _, k := range sortedKeys(nil, s.Meta) {
				str(k, s.Meta[k])
			}
			must(e.EncodeString("metrics"))
			must(e.EncodeMapLen(len(s.Metrics)))
			for _, k := range sortedKeys(nil, s.Metrics) {
				must(e.EncodeString(k))
				must(e.EncodeFloat64(s.Metrics[k]))
			}
			str("type", s.Type)
		}
	}
	return buf.Bytes()
}

// encodeV05 writes traces as the v0.5 payload: a string table, then spans of 12 elements that index into it.
func encodeV05(t testing.TB, traces [][]ddSpan) []byte {
	t.Helper()
	index := map[string]uint32{"": 0}
	table := []string{""}
	idx := func(s string) uint32 {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = uint32(len(table))
		table = append(table, s)
		return index[s]
	}
	var spans bytes.Buffer
	e := msgpack.NewEncoder(&spans)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.EncodeArrayLen(len(traces)))
	for _, tr := range traces {
		must(e.EncodeArrayLen(len(tr)))
		for _, s := range tr {
			must(e.EncodeArrayLen(12))
			must(e.EncodeUint(uint64(idx(s.Service))))
			must(e.EncodeUint(uint64(idx(s.Name))))
			must(e.EncodeUint(uint64(idx(s.Resource))))
			must(e.EncodeUint(s.TraceID))
			must(e.EncodeUint(s.SpanID))
			must(e.EncodeUint(s.ParentID))
			must(e.EncodeInt(s.Start))
			must(e.EncodeInt(s.Duration))
			must(e.EncodeInt(int64(s.Error)))
			must(e.EncodeMapLen(len(s.Meta)))
			for _, k := range sortedKeys(nil, s.Meta) {
				must(e.EncodeUint(uint64(idx(k))))
				must(e.EncodeUint(uint64(idx(s.Meta[k]))))
			}
			must(e.EncodeMapLen(len(s.Metrics)))
			for _, k := range sortedKeys(nil, s.Metrics) {
				must(e.EncodeUint(uint64(idx(k))))
				must(e.EncodeFloat64(s.Metrics[k]))
			}
			must(e.EncodeUint(uint64(idx(s.Type))))
		}
	}
	var out bytes.Buffer
	e = msgpack.NewEncoder(&out)
	must(e.EncodeArrayLen(2))
	must(e.EncodeArrayLen(len(table)))
	for _, s := range table {
		must(e.EncodeString(s))
	}
	out.Write(spans.Bytes())
	return out.Bytes()
}

// encodeJSON writes traces as the v0.3 JSON payload.
func encodeJSON(t testing.TB, traces [][]ddSpan) []byte {
	t.Helper()
	js := make([][]jsonSpan, len(traces))
	for i, tr := range traces {
		for _, s := range tr {
			js[i] = append(js[i], jsonSpan{
				Service: s.Service, Name: s.Name, Resource: s.Resource, Type: s.Type,
				TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID,
				Start: s.Start, Duration: s.Duration, Error: s.Error, Meta: s.Meta, Metrics: s.Metrics,
			})
		}
	}
	b, err := json.MarshalIndent(js, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
