package sample

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/weftrace/weft/trace"
)

// traceID makes a trace ID whose last 8 bytes are v.
func traceID(v uint64) trace.TraceID {
	var id trace.TraceID
	id[0] = 1
	binary.BigEndian.PutUint64(id[8:], v)
	return id
}

var (
	sampledParent   = trace.SpanContext{TraceID: traceID(1), SpanID: trace.SpanID{1}, Flags: trace.FlagSampled, Remote: true, Priority: trace.PriorityUnset}
	unsampledParent = trace.SpanContext{TraceID: traceID(1), SpanID: trace.SpanID{1}, Remote: true, Priority: trace.PriorityUnset}
)

func TestSamplers(t *testing.T) {
	low, high := traceID(0), traceID(math.MaxUint64)
	mid := traceID(uint64(0.5 * (1 << 63) * 2)) // exactly at 50 %
	withPriority := func(sc trace.SpanContext, p int8) trace.SpanContext { sc.Priority = p; return sc }
	tests := []struct {
		name     string
		s        trace.Sampler
		p        trace.SamplingParams
		decision trace.Decision
		priority int8
	}{
		{"always", Always(), trace.SamplingParams{TraceID: low}, trace.RecordAndSample, PriorityAutoKeep},
		{"never", Never(), trace.SamplingParams{TraceID: low}, trace.Drop, PriorityAutoReject},
		{"parent sampled", ParentBased(Never()), trace.SamplingParams{TraceID: low, Parent: sampledParent}, trace.RecordAndSample, trace.PriorityUnset},
		{"parent unsampled", ParentBased(Always()), trace.SamplingParams{TraceID: low, Parent: unsampledParent}, trace.Drop, trace.PriorityUnset},
		{"parent priority keep beats flag", ParentBased(Never()), trace.SamplingParams{Parent: withPriority(unsampledParent, 2)}, trace.RecordAndSample, 2},
		{"parent priority reject beats flag", ParentBased(Always()), trace.SamplingParams{Parent: withPriority(sampledParent, -1)}, trace.Drop, -1},
		{"no parent asks root", ParentBased(Never()), trace.SamplingParams{TraceID: low}, trace.Drop, PriorityAutoReject},
		{"ratio 0", Ratio(0), trace.SamplingParams{TraceID: low}, trace.Drop, PriorityAutoReject},
		{"ratio 1", Ratio(1), trace.SamplingParams{TraceID: high}, trace.RecordAndSample, PriorityAutoKeep},
		{"ratio low id", Ratio(0.5), trace.SamplingParams{TraceID: low}, trace.RecordAndSample, PriorityAutoKeep},
		{"ratio high id", Ratio(0.5), trace.SamplingParams{TraceID: high}, trace.Drop, PriorityAutoReject},
		{"ratio boundary", Ratio(0.5), trace.SamplingParams{TraceID: mid}, trace.Drop, PriorityAutoReject},
		{"ratio above 1 clamps", Ratio(7), trace.SamplingParams{TraceID: high}, trace.RecordAndSample, PriorityAutoKeep},
		{"unitary turns drop into candidate", Unitary(Never(), time.Second, true), trace.SamplingParams{TraceID: low}, trace.UnitaryCandidate, PriorityAutoReject},
		{"unitary keeps a sampled decision", Unitary(Always(), time.Second, true), trace.SamplingParams{TraceID: low}, trace.RecordAndSample, PriorityAutoKeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.s.ShouldSample(tt.p)
			if r.Decision != tt.decision || r.Priority != tt.priority {
				t.Errorf("%s: %v priority %d, want %v priority %d", tt.s.Description(), r.Decision, r.Priority, tt.decision, tt.priority)
			}
		})
	}
}

// TestRatioMatchesOpenTelemetry checks the decision against OpenTelemetry's TraceIDRatioBased formula, so that a
// trace is sampled alike by weft and OpenTelemetry services.
func TestRatioMatchesOpenTelemetry(t *testing.T) {
	for _, fraction := range []float64{0.001, 0.1, 0.25, 0.5, 0.9} {
		s := Ratio(fraction)
		bound := uint64(fraction * (1 << 63))
		kept := 0
		for i := uint64(0); i < 4096; i++ {
			v := i * 0x9E3779B97F4A7C15 // spread over the whole range
			id := traceID(v)
			want := v>>1 < bound
			got := s.ShouldSample(trace.SamplingParams{TraceID: id}).Decision == trace.RecordAndSample
			if got != want {
				t.Fatalf("Ratio(%g) on %x: %t, OpenTelemetry %t", fraction, v, got, want)
			}
			if got {
				kept++
			}
		}
		if share := float64(kept) / 4096; math.Abs(share-fraction) > 0.05 {
			t.Errorf("Ratio(%g) kept %.3f", fraction, share)
		}
	}
}

func TestLimiter(t *testing.T) {
	tests := []struct {
		name      string
		perSecond float64
		times     []int64 // nanoseconds since the start
		want      []bool
	}{
		{"burst up to the rate", 3, []int64{0, 0, 0, 0}, []bool{true, true, true, false}},
		{"refills over time", 2, []int64{0, 0, 0, 5e8, 5e8, 1e9}, []bool{true, true, false, true, false, true}},
		{"fractional rate", 0.5, []int64{0, 1e9, 2e9, 2e9}, []bool{true, false, true, false}},
		{"zero allows nothing", 0, []int64{0, 1e9}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(tt.perSecond)
			base := int64(1e12)
			for i, at := range tt.times {
				if got := l.allowAt(base + at); got != tt.want[i] {
					t.Errorf("event %d at %dns: %t, want %t", i, at, got, tt.want[i])
				}
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	s := RateLimit(5)
	kept := 0
	for i := 0; i < 100; i++ {
		if s.ShouldSample(trace.SamplingParams{}).Decision == trace.RecordAndSample {
			kept++
		}
	}
	// A burst of 5 plus whatever the clock let through while the loop ran; never all 100.
	if kept < 5 || kept > 50 {
		t.Errorf("RateLimit(5) kept %d of a burst of 100", kept)
	}
}

func TestRules(t *testing.T) {
	rules := Rules([]Rule{
		{Name: "health", SpanName: "GET /health*", Reservoir: 0, Rate: 0},
		{Name: "pair", Service: "match*", Attrs: map[string]string{"http.route": "/pair/*"}, Reservoir: 1, Rate: 0},
		{Name: "status", Attrs: map[string]string{"http.status_code": "5??"}, Reservoir: 0, Rate: 1},
	}, Ratio(0))
	route := func(r string) []trace.Attr { return []trace.Attr{trace.String("http.route", r)} }
	tests := []struct {
		name     string
		p        trace.SamplingParams
		decision trace.Decision
		priority int8
	}{
		{"health is dropped by its rule", trace.SamplingParams{Name: "GET /healthz"}, trace.Drop, PriorityUserReject},
		{"pair takes the reservoir", trace.SamplingParams{Service: "matchmaker", Attrs: route("/pair/42")}, trace.RecordAndSample, PriorityUserKeep},
		{"pair beyond the reservoir, rate 0", trace.SamplingParams{Service: "matchmaker", Attrs: route("/pair/43")}, trace.Drop, PriorityUserReject},
		{"other service falls through", trace.SamplingParams{Service: "taster", Attrs: route("/pair/1")}, trace.Drop, PriorityAutoReject},
		{"missing attribute falls through", trace.SamplingParams{Service: "matchmaker"}, trace.Drop, PriorityAutoReject},
		{"non-string attribute matches its text", trace.SamplingParams{Attrs: []trace.Attr{trace.Int("http.status_code", 503)}}, trace.RecordAndSample, PriorityUserKeep},
		{"non-string attribute that does not match", trace.SamplingParams{Attrs: []trace.Attr{trace.Int("http.status_code", 200)}}, trace.Drop, PriorityAutoReject},
	}
	for _, tt := range tests {
		r := rules.ShouldSample(tt.p)
		if r.Decision != tt.decision || r.Priority != tt.priority {
			t.Errorf("%s: %v %d, want %v %d", tt.name, r.Decision, r.Priority, tt.decision, tt.priority)
		}
	}
	if d := rules.Description(); d != "Rules{health:0/s+0,pair:1/s+0,status:0/s+1;fallback:TraceIDRatioBased{0}}" {
		t.Errorf("Description = %q", d)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "anything", true},
		{"*", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"a?c", "abc", true},
		{"a*", "a", true},
		{"*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"/pair/*", "/pair/", true},
		{"/pair/*", "/pai", false},
		{"**", "x", true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("match(%q, %q) = %t", tt.pattern, tt.s, got)
		}
	}
}

func TestUnitaryKeep(t *testing.T) {
	u := Unitary(Never(), 100*time.Millisecond, true)
	tests := []struct {
		name string
		d    trace.SpanData
		want bool
	}{
		{"fast and fine", trace.SpanData{Start: 0, End: int64(time.Millisecond)}, false},
		{"slow", trace.SpanData{Start: 0, End: int64(200 * time.Millisecond)}, true},
		{"at the threshold", trace.SpanData{Start: 0, End: int64(100 * time.Millisecond)}, true},
		{"failed", trace.SpanData{StatusCode: trace.StatusError}, true},
	}
	for _, tt := range tests {
		if got := u.KeepUnitary(&tt.d); got != tt.want {
			t.Errorf("%s: %t", tt.name, got)
		}
	}
	if Unitary(Never(), 0, false).KeepUnitary(&trace.SpanData{StatusCode: trace.StatusError, End: 1e12}) {
		t.Error("a unitary sampler with neither threshold nor errors kept a span")
	}
}

// TestWithProvider runs the samplers inside a provider: unitary spans come out marked, and rules see the
// attributes given at start.
func TestWithProvider(t *testing.T) {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec, Sampler: Unitary(ParentBased(Rules([]Rule{
		{Name: "pair", Attrs: map[string]string{"http.route": "/pair"}, Rate: 1},
	}, Never())), time.Hour, true)})
	tr := p.Tracer("")
	_, kept := tr.Start(t.Context(), "pair", trace.WithAttrs(trace.String("http.route", "/pair")))
	kept.End()
	_, failed := tr.Start(t.Context(), "other")
	failed.SetStatus(trace.StatusError, "x")
	failed.End()
	_, fine := tr.Start(t.Context(), "fine")
	fine.End()
	p.Shutdown(t.Context())
	got := map[string]*trace.SpanData{}
	for _, d := range rec.Spans() {
		got[d.Name] = d
	}
	if len(got) != 2 || got["pair"] == nil || got["pair"].Unitary || got["pair"].Priority != PriorityUserKeep ||
		got["other"] == nil || !got["other"].Unitary {
		t.Errorf("exported %v", got)
	}
}

func BenchmarkRules(b *testing.B) {
	s := Rules([]Rule{{Name: "pair", Service: "matchmaker", Attrs: map[string]string{"http.route": "/pair/*"}, Reservoir: 10, Rate: 0.1}}, Ratio(0.01))
	p := trace.SamplingParams{TraceID: traceID(12345), Service: "matchmaker", Name: "GET", Attrs: []trace.Attr{trace.String("http.route", "/pair/1")}}
	b.ReportAllocs()
	for b.Loop() {
		s.ShouldSample(p)
	}
}
