package propagation

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/weftrace/weft/trace"
)

// goldenFile is the shape of testdata/<format>.json: extraction cases (request headers in, span context out)
// and injection cases (span context in, headers out).
type goldenFile struct {
	Extract []goldenExtract `json:"extract"`
	Inject  []goldenInject  `json:"inject"`
}

type goldenExtract struct {
	Name     string      `json:"name"`
	Headers  [][2]string `json:"headers"`
	Valid    bool        `json:"valid"`
	TraceID  string      `json:"trace_id"`
	SpanID   string      `json:"span_id"`
	Sampled  bool        `json:"sampled"`
	Priority *int8       `json:"priority"`
	Origin   string      `json:"origin"`
	Cause    string      `json:"cause"`
	Failures uint64      `json:"failures"` // malformed headers counted by this extraction
	// DecisionOnly: the headers carry a sampling decision without IDs (sampled and priority say which).
	DecisionOnly bool `json:"decision_only"`
}

type goldenInject struct {
	Name       string            `json:"name"`
	TraceID    string            `json:"trace_id"`
	SpanID     string            `json:"span_id"`
	Sampled    bool              `json:"sampled"`
	Priority   *int8             `json:"priority"`
	Origin     string            `json:"origin"`
	TraceState string            `json:"tracestate"`
	Headers    map[string]string `json:"headers"`
	// DecisionOnly: the context is a sampling decision without IDs (trace_id and span_id are empty).
	DecisionOnly bool `json:"decision_only"`
}

func readGolden(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func mustTraceID(t *testing.T, s string) (id trace.TraceID) {
	t.Helper()
	if _, err := hex.Decode(id[:], []byte(s)); err != nil || len(s) != 32 {
		t.Fatalf("bad trace ID %q in golden file", s)
	}
	return id
}

func mustSpanID(t *testing.T, s string) (id trace.SpanID) {
	t.Helper()
	if _, err := hex.Decode(id[:], []byte(s)); err != nil || len(s) != 16 {
		t.Fatalf("bad span ID %q in golden file", s)
	}
	return id
}

func headerOf(pairs [][2]string) http.Header {
	h := http.Header{}
	for _, kv := range pairs {
		h.Add(kv[0], kv[1])
	}
	return h
}

// TestGolden runs every format's golden vectors through its propagator, and the same extraction cases through a
// Composite of all formats, which must give the same answer when only one format's headers are present.
func TestGolden(t *testing.T) {
	formats := []struct {
		file string
		p    Propagator
	}{
		{"b3.json", B3{}},
		{"b3multi.json", B3Multi{}},
		{"datadog.json", Datadog{}},
		{"jaeger.json", Jaeger{}},
		{"w3c_inject.json", W3C{}},
	}
	all := Composite{W3C{}, B3{}, B3Multi{}, Datadog{}, Jaeger{}, W3CBaggage{}}
	for _, f := range formats {
		var g goldenFile
		readGolden(t, f.file, &g)
		if len(g.Extract) == 0 || len(g.Inject) == 0 {
			t.Fatalf("%s: no cases", f.file)
		}
		for _, p := range []Propagator{f.p, all} {
			for _, c := range g.Extract {
				t.Run(f.file+"/extract/"+c.Name, func(t *testing.T) {
					before := ParseFailures().Total()
					ctx := p.Extract(context.Background(), HeaderCarrier(headerOf(c.Headers)))
					if got := ParseFailures().Total() - before; got != c.Failures {
						t.Errorf("counted %d malformed headers, want %d", got, c.Failures)
					}
					checkExtracted(t, spanContextFromContext(ctx), c)
				})
			}
		}
		for _, c := range g.Inject {
			t.Run(f.file+"/inject/"+c.Name, func(t *testing.T) {
				sc := trace.SpanContext{TraceState: c.TraceState, Origin: c.Origin, Priority: trace.PriorityUnset}
				if c.DecisionOnly {
					sc.Remote = true
				} else {
					sc.TraceID, sc.SpanID = mustTraceID(t, c.TraceID), mustSpanID(t, c.SpanID)
				}
				if c.Sampled {
					sc.Flags = trace.FlagSampled
				}
				if c.Priority != nil {
					sc.Priority = *c.Priority
				}
				h := http.Header{}
				f.p.Inject(contextWithRemote(context.Background(), sc), HeaderCarrier(h))
				if len(h) != len(c.Headers) {
					t.Errorf("wrote %v, want %v", h, c.Headers)
				}
				for k, want := range c.Headers {
					if got := h[k]; len(got) != 1 || got[0] != want {
						t.Errorf("%s = %q, want %q", k, got, want)
					}
				}
				// What was injected extracts to the same context.
				got := spanContextFromContext(f.p.Extract(context.Background(), HeaderCarrier(h)))
				if got.TraceID != sc.TraceID || got.SpanID != sc.SpanID || got.IsSampled() != sc.IsSampled() ||
					got.IsDecisionOnly() != c.DecisionOnly {
					t.Errorf("round trip gave %+v, want %+v", got, sc)
				}
			})
		}
	}
}

func checkExtracted(t *testing.T, got trace.SpanContext, c goldenExtract) {
	t.Helper()
	if c.DecisionOnly {
		if !got.IsDecisionOnly() {
			t.Fatalf("extracted %+v, want a decision without IDs", got)
		}
		want := trace.PriorityUnset
		if c.Priority != nil {
			want = *c.Priority
		}
		if got.IsSampled() != c.Sampled || got.Priority != want {
			t.Errorf("decision sampled %v priority %d, want %v %d", got.IsSampled(), got.Priority, c.Sampled, want)
		}
		return
	}
	if !c.Valid {
		if got.IsValid() || got.IsDecisionOnly() {
			t.Fatalf("extracted %+v from malformed or absent headers", got)
		}
		return
	}
	if !got.IsValid() {
		t.Fatal("extracted nothing")
	}
	if got.TraceID != mustTraceID(t, c.TraceID) || got.SpanID != mustSpanID(t, c.SpanID) {
		t.Errorf("IDs %v-%v, want %s-%s", got.TraceID, got.SpanID, c.TraceID, c.SpanID)
	}
	if got.IsSampled() != c.Sampled {
		t.Errorf("sampled %v, want %v", got.IsSampled(), c.Sampled)
	}
	want := trace.PriorityUnset
	if c.Priority != nil {
		want = *c.Priority
	}
	if got.Priority != want {
		t.Errorf("priority %d, want %d", got.Priority, want)
	}
	if got.Origin != c.Origin {
		t.Errorf("origin %q, want %q", got.Origin, c.Origin)
	}
	if !got.Remote {
		t.Error("extracted context is not marked remote")
	}
	var cause string
	if got.Cause.IsValid() {
		cause = got.Cause.String()
	}
	if cause != c.Cause {
		t.Errorf("cause %q, want %q", cause, c.Cause)
	}
}

// w3cCase is a row of testdata/w3c_tracecontext.json: one case of the W3C trace-context test suite.
type w3cCase struct {
	Name       string      `json:"name"`
	Headers    [][2]string `json:"headers"`
	Valid      bool        `json:"valid"`
	TraceID    string      `json:"trace_id"`
	SpanID     string      `json:"span_id"`
	Flags      string      `json:"flags"`
	TraceState string      `json:"tracestate"`
}

// TestW3CTraceContextSuite replays the W3C trace-context test suite's traceparent and tracestate cases: what
// must be extracted, what must be discarded, and that a service passing the context on keeps the trace ID and
// the inherited tracestate while sending its own parent ID.
func TestW3CTraceContextSuite(t *testing.T) {
	var cases []w3cCase
	readGolden(t, "w3c_tracecontext.json", &cases)
	if len(cases) < 70 {
		t.Fatalf("only %d cases in the golden file", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			h := headerOf(c.Headers)
			ctx := W3C{}.Extract(context.Background(), HeaderCarrier(h))
			got := spanContextFromContext(ctx)
			if !c.Valid {
				if got.IsValid() {
					t.Fatalf("extracted %v from an invalid traceparent", got.TraceID)
				}
				return
			}
			if !got.IsValid() {
				t.Fatal("extracted nothing from a valid traceparent")
			}
			if got.TraceID.String() != c.TraceID || got.SpanID.String() != c.SpanID {
				t.Errorf("IDs %v-%v, want %s-%s", got.TraceID, got.SpanID, c.TraceID, c.SpanID)
			}
			if f := hex.EncodeToString([]byte{byte(got.Flags)}); f != c.Flags {
				t.Errorf("flags %s, want %s", f, c.Flags)
			}
			if got.TraceState != c.TraceState {
				t.Errorf("tracestate %q, want %q", got.TraceState, c.TraceState)
			}

			// Forward it as a service would: same trace, a new parent ID, the tracestate inherited.
			child := got
			child.SpanID = trace.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31}
			out := http.Header{}
			W3C{}.Inject(contextWithRemote(context.Background(), child), HeaderCarrier(out))
			if n := len(out.Values("traceparent")); n != 1 {
				t.Fatalf("injected %d traceparent headers", n)
			}
			fwd, err := ParseTraceparent(out.Get("traceparent"))
			if err != nil {
				t.Fatal(err)
			}
			if fwd.TraceID != got.TraceID || fwd.SpanID != child.SpanID || fwd.Flags != got.Flags&0x03 {
				t.Errorf("forwarded %q", out.Get("traceparent"))
			}
			if ts := out.Get("tracestate"); ts != c.TraceState {
				t.Errorf("forwarded tracestate %q, want %q", ts, c.TraceState)
			}
		})
	}
}

// TestOutgoingTracestate checks the weft member: it goes first, replaces an older weft member, and the list
// stays within 32 members.
func TestOutgoingTracestate(t *testing.T) {
	send := trace.EventID{Unit: 0xa1b2c3, Seq: 42}
	many := ""
	for i := range 32 {
		if i > 0 {
			many += ","
		}
		many += "k" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "=v"
	}
	tests := []struct {
		name, in, want string
		priority       int8
	}{
		{"empty", "", "weft=0000000000a1b2c3:42", trace.PriorityUnset},
		{"prepended", "foo=1,bar=2", "weft=0000000000a1b2c3:42,foo=1,bar=2", trace.PriorityUnset},
		{"replaces the old weft member", "foo=1,weft=0000000000000001:1,bar=2", "weft=0000000000a1b2c3:42,foo=1,bar=2", trace.PriorityUnset},
		{"with dd", "dd=s:1;o:x,foo=1", "weft=0000000000a1b2c3:42,dd=s:2,foo=1", 2},
		{"white space and empty members dropped", " foo=1 ,, bar=2", "weft=0000000000a1b2c3:42,foo=1,bar=2", trace.PriorityUnset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := trace.SpanContext{Flags: trace.FlagSampled, TraceState: tt.in, Priority: tt.priority}
			if got := outgoingTracestate(sc, send); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("cut to 32 members", func(t *testing.T) {
		got := outgoingTracestate(trace.SpanContext{Flags: trace.FlagSampled, TraceState: many, Priority: trace.PriorityUnset}, send)
		if err := ValidateTracestate(got); err != nil {
			t.Fatal(err)
		}
		sc := trace.SpanContext{TraceState: got}
		readTracestate(&sc, sc.TraceState)
		if sc.Cause != send {
			t.Errorf("cause %+v, want %+v", sc.Cause, send)
		}
		var members int
		for range splitMembers(got) {
			members++
		}
		if members != 32 {
			t.Errorf("%d members, want 32", members)
		}
	})
}

func splitMembers(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != ',' {
			i++
		}
		out = append(out, s[:i])
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}

// TestTracestateDuplicatesBeyondKeptKeys: a key repeated after the first eight members is still caught.
func TestTracestateDuplicatesBeyondKeptKeys(t *testing.T) {
	list := "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1"
	if err := ValidateTracestate(list); err != nil {
		t.Fatal(err)
	}
	for _, dup := range []string{",a=2", ",j=2", ",h=2"} {
		if ValidateTracestate(list+dup) == nil {
			t.Errorf("duplicate %q accepted", dup)
		}
	}
}
