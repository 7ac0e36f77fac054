package analyze

import (
	"encoding/binary"
	"testing"

	"github.com/weftrace/weft/model"
)

// spansFromBytes reads arbitrary bytes as a trace: every 16 bytes make a span with a small ID space, so parents,
// links, units, sequence numbers and causes collide, repeat and loop as bad input would.
func spansFromBytes(data []byte) []*model.Span {
	var trace model.TraceID
	trace[15] = 1
	res := []*model.Resource{{Service: "a"}, {Service: "b"}, {Service: "c", Attrs: []model.Attr{{Key: "k", Value: model.Int(1)}}}, nil}
	var spans []*model.Span
	for len(data) >= 16 && len(spans) < 200 {
		d := data[:16]
		data = data[16:]
		s := &model.Span{TraceID: trace, Name: string(rune('p' + d[0]%4)), Kind: model.Kind(d[1] % 6),
			Start: int64(binary.LittleEndian.Uint16(d[2:])) * 1000, Duration: int64(d[4]) * 1000, Resource: res[d[5]%4]}
		s.SpanID[7] = d[6]%32 + 1
		if d[7]%4 != 0 {
			s.ParentID[7] = d[7] % 32
		}
		if d[8]%8 == 0 {
			s.Links = []model.Link{{TraceID: trace, SpanID: model.SpanID{7: d[9] % 32}}}
		}
		if d[10]%2 == 0 {
			s.Causality = model.Causality{Unit: uint64(d[11]%4 + 1), StartSeq: uint32(d[12] % 8), EndSeq: uint32(d[13] % 8),
				StartCause: model.EventRef{Unit: uint64(d[14] % 5), Seq: uint32(d[15] % 8)}}
			if d[9]%3 == 0 {
				s.Causality.EndUnit = uint64(d[9]%4 + 1)
			}
			if d[8]%3 == 0 {
				s.Events = []model.Event{{Time: s.Start + int64(d[15])*100, Seq: uint32(d[14] % 8), Unit: uint64(d[13] % 3),
					Cause: model.EventRef{Unit: uint64(d[12] % 5), Seq: uint32(d[11] % 8)}}}
			}
		}
		if d[3]%16 == 0 {
			s.StatusCode = model.StatusError
		}
		if d[3]%7 == 1 {
			s.Flags = model.FlagShared // a Zipkin server sharing its client's ID, or a lone flag
		}
		spans = append(spans, s)
	}
	return spans
}

// FuzzAnalyze feeds arbitrary traces to every analysis: nothing may panic or loop, and the critical path keeps its
// invariants whatever the input.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Add([]byte("0123456789abcdef0123456789abcdefzyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUTSRQPONMLKJIHGFEDCBA"))
	seq := make([]byte, 0, 16*40)
	for i := 0; i < 40; i++ {
		seq = append(seq, byte(i), byte(i*7), byte(i*3), 0, byte(100-i), byte(i%3), byte(i), byte(i/2), byte(i), byte(i*5), 0, byte(i%3), byte(i), byte(i+1), byte(i%4), byte(i))
	}
	f.Add(seq)
	f.Fuzz(func(t *testing.T, data []byte) {
		spans := spansFromBytes(data)
		for _, c := range []Choice{ChooseZero, ChooseMidpoint} {
			p := CriticalPath(spans, c)
			checkPath(t, p, spans)
			// Duplicate IDs and events make the exact count of broken constraints ambiguous here (checkClock does it
			// on well-formed traces); what must hold is that offsets lie within their bounds.
			clock := EstimateClock(spans, c)
			for _, pr := range clock.Processes {
				if pr.LowerBounded && pr.Offset < pr.Lower || pr.UpperBounded && pr.Offset > pr.Upper {
					t.Errorf("process %d offset %d outside [%d, %d]", pr.ID, pr.Offset, pr.Lower, pr.Upper)
				}
			}
			if clock.InconsistencyCount < len(clock.Inconsistencies) || len(clock.SpanProcess) != len(spans) {
				t.Errorf("clock %+v", clock)
			}
		}
		half := len(spans) / 2
		a := Aggregate([][]*model.Span{spans[:half], spans[half:]}, Limits{Nodes: 5, Groups: 1})
		ComparePopulations(a, Aggregate([][]*model.Span{spans}, Limits{Nodes: -1}), 0.1)
		CompareTraces(spans[:half], spans[half:])
		Services([][]*model.Span{spans}, 0, 0)
		Operations([][]*model.Span{spans}, "a", "", 0, 0)
	})
}
