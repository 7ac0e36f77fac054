package propagation

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/weftrace/weft/trace"
)

// The fuzz tests feed each header parser arbitrary values. None may panic; whatever a parser accepts must be
// valid and survive a round trip through the format's writer.

func FuzzTraceparent(f *testing.F) {
	for _, s := range []string{
		"00-12345678901234567890123456789012-1234567890123456-01",
		"cc-12345678901234567890123456789012-1234567890123456-01-future",
		"ff-12345678901234567890123456789012-1234567890123456-01",
		"00-00000000000000000000000000000000-1234567890123456-01",
		" 00-12345678901234567890123456789012-1234567890123456-01\t", "", "-", "00--",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseTraceparent(s)
		if err != nil {
			return
		}
		if !sc.IsValid() || !sc.Remote {
			t.Fatalf("accepted %q as %+v", s, sc)
		}
		again, err := ParseTraceparent(string(AppendTraceparent(nil, sc)))
		if err != nil || again.TraceID != sc.TraceID || again.SpanID != sc.SpanID || again.Flags != sc.Flags&0x03 {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

func FuzzTracestate(f *testing.F) {
	for _, s := range []string{
		"foo=1,bar=2", "weft=0000000000a1b2c3:42,foo=1", "dd=s:2;o:rum", "a@b=1", "foo=1,foo=2", ",,", "=",
		"weft=zz:1", "k= v", "t@vvvvvvvvvvvvvvv=1",
	} {
		f.Add(s, uint64(7), uint32(3))
	}
	f.Fuzz(func(t *testing.T, s string, unit uint64, seq uint32) {
		if ValidateTracestate(s) != nil {
			return
		}
		sc := trace.SpanContext{TraceState: s, Flags: trace.FlagSampled, Priority: trace.PriorityUnset}
		readTracestate(&sc, sc.TraceState)
		send := trace.EventID{Unit: unit, Seq: seq}
		out := outgoingTracestate(sc, send)
		if err := ValidateTracestate(out); err != nil {
			t.Fatalf("outgoing tracestate %q from %q is invalid: %v", out, s, err)
		}
		back := trace.SpanContext{TraceState: out, Flags: trace.FlagSampled}
		readTracestate(&back, back.TraceState)
		if send.IsValid() && back.Cause != send {
			t.Fatalf("cause %+v lost in %q", send, out)
		}
	})
}

// FuzzW3C reads both W3C headers as a server receives them, tracestate possibly split over two header lines:
// a context that is extracted is valid, keeps only a valid tracestate, and survives Inject and Extract with its
// IDs, sampled flag, cause and priority, the tracestate sent being valid.
func FuzzW3C(f *testing.F) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	f.Add(tp, "weft=0000000000a1b2c3:42,foo=1", "")
	f.Add(tp, "dd=s:2;o:rum", "weft=zz:1")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "dd=s:-1;o:syn thetics", "foo=1,foo=2")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-xyz", " ,a@b=1", "t@vvvvvvvvvvvvvvv=1")
	f.Add(tp, strings.Repeat("k=v,", 31)+"dd=s:2", "")
	f.Fuzz(func(t *testing.T, traceparent, state1, state2 string) {
		h := http.Header{"Traceparent": {traceparent}, "Tracestate": {state1, state2}}
		sc := spanContextFromContext(W3C{}.Extract(context.Background(), HeaderCarrier(h)))
		if !sc.IsValid() {
			return
		}
		if sc.TraceState != "" {
			if err := ValidateTracestate(sc.TraceState); err != nil {
				t.Fatalf("kept tracestate %q is invalid: %v", sc.TraceState, err)
			}
		}
		out := http.Header{}
		W3C{}.Inject(contextWithRemote(context.Background(), sc), HeaderCarrier(out))
		if ts := out.Get("Tracestate"); ts != "" {
			if err := ValidateTracestate(ts); err != nil {
				t.Fatalf("sent tracestate %q (from %q, %q) is invalid: %v", ts, state1, state2, err)
			}
		}
		again := spanContextFromContext(W3C{}.Extract(context.Background(), HeaderCarrier(out)))
		if again.TraceID != sc.TraceID || again.SpanID != sc.SpanID || again.IsSampled() != sc.IsSampled() ||
			again.Cause != sc.Cause || again.Priority != sc.Priority {
			t.Fatalf("round trip: %+v became %+v via %v", sc, again, out)
		}
	})
}

func FuzzB3(f *testing.F) {
	for _, s := range []string{
		"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
		"0", "1", "d", " 0", "x", "a-b-c-d-e", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ctx := B3{}.Extract(context.Background(), MapCarrier{"b3": s})
		sc := spanContextFromContext(ctx)
		if sc.IsDecisionOnly() { // a decision without IDs travels on as the state alone
			out := MapCarrier{}
			B3{}.Inject(ctx, out)
			again := spanContextFromContext(B3{}.Extract(context.Background(), out))
			if !again.IsDecisionOnly() || again.IsSampled() != sc.IsSampled() || again.Priority != sc.Priority {
				t.Fatalf("decision %q: %+v became %q, %+v", s, sc, out[hB3], again)
			}
			return
		}
		if !sc.IsValid() {
			return
		}
		again, err := ParseB3(string(AppendB3(nil, sc)))
		if err != nil || again.TraceID != sc.TraceID || again.SpanID != sc.SpanID || again.IsSampled() != sc.IsSampled() {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

func FuzzB3Multi(f *testing.F) {
	f.Add("80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", "05e3ac9a4f6e3b90", "1", "")
	f.Add("64fe8b2a57d3eff7", "e457b5a2e4d86bd1", "", "true", "1")
	f.Add("", "", "", "d", "x")
	f.Add("", "", "", "0", "")
	f.Add("", "", "", "", "1")
	f.Add("", "", "", "false", "0")
	f.Fuzz(func(t *testing.T, tid, sid, parent, sampled, flags string) {
		h := http.Header{}
		for k, v := range map[string]string{hB3TraceID: tid, hB3SpanID: sid, hB3ParentSpanID: parent, hB3Sampled: sampled, hB3Flags: flags} {
			if v != "" {
				h.Set(k, v)
			}
		}
		sc := spanContextFromContext(B3Multi{}.Extract(context.Background(), HeaderCarrier(h)))
		if !sc.IsValid() && !sc.IsDecisionOnly() {
			return
		}
		out := http.Header{}
		B3Multi{}.Inject(contextWithRemote(context.Background(), sc), HeaderCarrier(out))
		again := spanContextFromContext(B3Multi{}.Extract(context.Background(), HeaderCarrier(out)))
		if again.TraceID != sc.TraceID || again.SpanID != sc.SpanID || again.IsSampled() != sc.IsSampled() ||
			again.Priority != sc.Priority || again.IsDecisionOnly() != sc.IsDecisionOnly() {
			t.Fatalf("round trip: %+v became %+v", sc, again)
		}
	})
}

func FuzzDatadog(f *testing.F) {
	f.Add("1234567890123456789", "987654321", "1", "synthetics", "_dd.p.tid=640cfd8d00000000")
	f.Add("18446744073709551616", "1", "-1", "", "_dd.p.tid=")
	f.Add("-1", "", "x", "", ",,=")
	f.Fuzz(func(t *testing.T, tid, pid, prio, origin, tags string) {
		c := MapCarrier{hDDTraceID: tid, hDDParentID: pid, hDDPriority: prio, hDDOrigin: origin, hDDTags: tags}
		sc := spanContextFromContext(Datadog{}.Extract(context.Background(), c))
		if !sc.IsValid() {
			return
		}
		out := MapCarrier{}
		Datadog{}.Inject(contextWithRemote(context.Background(), sc), out)
		again := spanContextFromContext(Datadog{}.Extract(context.Background(), out))
		if again.TraceID != sc.TraceID || again.SpanID != sc.SpanID || again.IsSampled() != sc.IsSampled() {
			t.Fatalf("round trip: %+v became %+v", sc, again)
		}
	})
}

func FuzzJaeger(f *testing.F) {
	for _, s := range []string{
		"80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:05e3ac9a4f6e3b90:1", "abc:def:0:3", "a%3Ab%3A0%3A1", ":::", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseJaeger(s)
		if err != nil {
			return
		}
		if !sc.IsValid() {
			t.Fatalf("accepted %q as %+v", s, sc)
		}
		again, err := ParseJaeger(string(AppendJaeger(nil, sc)))
		if err != nil || again.TraceID != sc.TraceID || again.SpanID != sc.SpanID || again.IsSampled() != sc.IsSampled() || again.Priority != sc.Priority {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

func FuzzBaggage(f *testing.F) {
	for _, s := range []string{
		"userId=alice,serverNode=DF%2028,isProduction=false", "k=v;ttl=30;public", "k=%ZZ", "=v", "k=v,k=w", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBaggage(s)
		if err != nil {
			return
		}
		again, err := ParseBaggage(b.String())
		if err != nil {
			t.Fatalf("%q re-encoded as %q does not parse: %v", s, b.String(), err)
		}
		if again.Len() != b.Len() {
			t.Fatalf("%q: %d members became %d", s, b.Len(), again.Len())
		}
		for _, m := range b.Members() {
			if v, ok := again.Get(m.Key); !ok || v != m.Value {
				t.Fatalf("%q: member %q=%q became %q", s, m.Key, m.Value, v)
			}
		}
	})
}
