package weft

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/weftrace/weft/model"
)

// bigTrace makes a trace of n weft-library spans over 10 services, each with 10 attributes and two causal events.
func bigTrace(n int) []*model.Span {
	var res []*model.Resource
	for i := 0; i < 10; i++ {
		res = append(res, &model.Resource{Service: "svc-" + strconv.Itoa(i), Attrs: []model.Attr{{Key: "host.name", Value: model.String("h" + strconv.Itoa(i))}}})
	}
	tid := model.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	spans := make([]*model.Span, n)
	for i := range spans {
		s := &model.Span{TraceID: tid, SpanID: model.SpanID{0xb0, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}, Name: "op-" + strconv.Itoa(i%50),
			Kind: model.KindServer, Start: base + int64(i)*1000, Duration: 5000, Resource: res[i%10],
			Causality: model.Causality{Unit: uint64(i/10 + 1), StartSeq: uint32(i%10*4 + 1), EndSeq: uint32(i%10*4 + 4)}}
		if i > 0 {
			s.ParentID = spans[(i-1)/2].SpanID
		}
		for k := 0; k < 10; k++ {
			s.Attrs = append(s.Attrs, model.Attr{Key: "attr." + strconv.Itoa(k), Value: model.String("value-" + strconv.Itoa(i%100))})
		}
		s.Events = []model.Event{{Time: s.Start + 10, Name: "weft.fork", Seq: s.Causality.StartSeq + 1},
			{Time: s.Start + 20, Name: "weft.join", Seq: s.Causality.StartSeq + 2, Cause: model.EventRef{Unit: 99, Seq: 1}}}
		spans[i] = s
	}
	return spans
}

func BenchmarkEncodeTrace(b *testing.B) {
	spans := bigTrace(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(EncodeTrace(spans[0].TraceID, spans)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeOTLP(b *testing.B) {
	spans := bigTrace(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(EncodeOTLP(spans)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTraceAnswer compares the answers the UI reads: the columnar form (through the regular answer) and the
// waterfall form (straight from the spans).
func BenchmarkTraceAnswer(b *testing.B) {
	spans := bigTrace(100000)
	id := spans[0].TraceID
	b.Run("columnar", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t := EncodeTrace(id, spans)
			b.SetBytes(int64(len(t.AppendColumnar(nil))))
		}
	})
	b.Run("waterfall", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.SetBytes(int64(len(AppendWaterfall(nil, id, spans))))
		}
	})
}
