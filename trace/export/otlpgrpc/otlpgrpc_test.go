package otlpgrpc

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/retry"
)

// collector is a TraceService built from the official OTLP types, answering with scripted errors first.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu       sync.Mutex
	script   []error
	requests []*coltracepb.ExportTraceServiceRequest
	md       []metadata.MD
	partial  *coltracepb.ExportTracePartialSuccess
}

func (c *collector) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	md, _ := metadata.FromIncomingContext(ctx)
	c.md = append(c.md, md)
	c.requests = append(c.requests, req)
	if len(c.script) > 0 {
		err := c.script[0]
		c.script = c.script[1:]
		return nil, err
	}
	return &coltracepb.ExportTraceServiceResponse{PartialSuccess: c.partial}, nil
}

func serve(t *testing.T, c *collector) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(s, c)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func newExporter(t *testing.T, addr string, cfg Config) *Exporter {
	t.Helper()
	cfg.Endpoint = "http://" + addr
	if cfg.Retry == (retry.Policy{}) {
		cfg.Retry = retry.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	return e
}

func TestExport(t *testing.T) {
	for _, compression := range []string{"", "none"} {
		c := &collector{}
		e := newExporter(t, serve(t, c), Config{Compression: compression, Headers: map[string]string{"x-tenant": "brewery"}})
		spans := fixture()
		if err := e.ExportSpans(context.Background(), spans); err != nil {
			t.Fatal(err)
		}
		if len(c.requests) != 1 {
			t.Fatalf("%d requests", len(c.requests))
		}
		checkDecoded(t, spans, c.requests[0])
		if got := c.md[0].Get("x-tenant"); len(got) != 1 || got[0] != "brewery" {
			t.Errorf("metadata %v", c.md[0])
		}
	}
}

func retryInfo(code codes.Code, d time.Duration) error {
	st, _ := status.New(code, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	return st.Err()
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		script   []error
		wantCode codes.Code
		requests int
	}{
		{"unavailable then ok", []error{status.Error(codes.Unavailable, "down")}, codes.OK, 2},
		{"resource exhausted with retry info", []error{retryInfo(codes.ResourceExhausted, time.Millisecond)}, codes.OK, 2},
		{"resource exhausted without retry info", []error{status.Error(codes.ResourceExhausted, "full")}, codes.ResourceExhausted, 1},
		{"invalid argument", []error{status.Error(codes.InvalidArgument, "bad")}, codes.InvalidArgument, 1},
		{"aborted, data loss, then ok", []error{status.Error(codes.Aborted, "x"), status.Error(codes.DataLoss, "y")}, codes.OK, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &collector{script: tt.script}
			e := newExporter(t, serve(t, c), Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := e.ExportSpans(ctx, fixture())
			if got := status.Code(errors.Unwrap(err)); err != nil && got != tt.wantCode || err == nil && tt.wantCode != codes.OK {
				t.Errorf("error %v, want code %v", err, tt.wantCode)
			}
			if len(c.requests) != tt.requests {
				t.Errorf("%d requests, want %d", len(c.requests), tt.requests)
			}
		})
	}
}

// TestRetryInfoLongerThanDeadline: the server's delay is honoured, so an export without time for it gives up.
func TestRetryInfoLongerThanDeadline(t *testing.T) {
	c := &collector{script: []error{retryInfo(codes.Unavailable, time.Hour)}}
	e := newExporter(t, serve(t, c), Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.ExportSpans(ctx, fixture()); err == nil || len(c.requests) != 1 {
		t.Errorf("error %v after %d requests", err, len(c.requests))
	}
}

func TestPartialSuccessAndShutdown(t *testing.T) {
	c := &collector{partial: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 2, ErrorMessage: "too old"}}
	e := newExporter(t, serve(t, c), Config{})
	err := e.ExportSpans(context.Background(), fixture())
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("rejected 2 spans: too old")) {
		t.Errorf("error %v", err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.ExportSpans(context.Background(), fixture()); !errors.Is(err, ErrShutdown) {
		t.Errorf("export after shutdown: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Endpoint: "ftp://x:1"}, {Endpoint: "http://"}, {Compression: "zstd"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// fixture is a batch with every field and attribute type, two resources and two scopes.
func fixture() []*trace.SpanData {
	res := &trace.Resource{Service: "matchmaker", Attrs: []trace.Attr{trace.String("service.version", "1.4.2")}}
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	other := trace.TraceID{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}
	return []*trace.SpanData{
		{
			TraceID: tid, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, Name: "GET /pairings/{beer}",
			Kind: trace.KindServer, Start: 1_700_000_000_000_000_000, End: 1_700_000_000_250_000_000,
			StatusCode: trace.StatusError, StatusMessage: "no pairing", Resource: res, Scope: "weft/http",
			SpanResource: "GET /pairings/{beer}", SpanType: "web", TraceState: "weft=9c1f0e22aa03b7d4:5", Flags: trace.FlagSampled,
			Attrs: []trace.Attr{trace.String("http.route", "/pairings/{beer}"), trace.Int64("code", -500), trace.Float64("load", 0.75),
				trace.Bool("hit", true), trace.Strings("s", []string{"a", ""}), trace.Int64s("i", []int64{1, -2}),
				trace.Float64s("f", []float64{1.5, math.Inf(1)}), trace.Bools("b", []bool{false, true}),
				trace.String("long", string(bytes.Repeat([]byte("x"), 200)))},
			Events: []trace.Event{
				{Time: 1_700_000_000_010_000_000, Name: trace.EventFork, Unit: 0xa596dd19732a1e13, Seq: 2},
				{Time: 1_700_000_000_200_000_000, Name: trace.EventJoin, Unit: 0x42, Seq: 5,
					Cause: trace.EventRef{TraceID: other, EventID: trace.EventID{Unit: 0x3d3899d57e98f17f, Seq: 2}},
					Attrs: []trace.Attr{trace.String("k", "v")}},
			},
			Links: []trace.Link{{SpanContext: trace.SpanContext{TraceID: other, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceState: "a=1", Flags: trace.FlagSampled}, Attrs: []trace.Attr{trace.Int64("n", 1)}}},
			Unit:  0xa596dd19732a1e13, StartSeq: 1, EndSeq: 8, EndUnit: 0x42,
			StartCause:   trace.EventRef{EventID: trace.EventID{Unit: 0x9c1f0e22aa03b7d4, Seq: 5}},
			DroppedAttrs: 1, DroppedEvents: 2, DroppedLinks: 3, Unitary: true,
		},
		{
			TraceID: tid, SpanID: trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}, ParentID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			Name: "SELECT donuts", Kind: trace.KindClient, Start: 1_700_000_000_020_000_000, End: 1_700_000_000_120_000_000,
			Resource: res, Scope: "weft/sql", Service: "postgres", StatusCode: trace.StatusOK,
		},
		{TraceID: other, SpanID: trace.SpanID{3, 3, 3, 3, 3, 3, 3, 3}, Name: "no resource"},
	}
}

// checkDecoded compares a request decoded with the official OTLP types with the spans it was encoded from:
// every field, and the weft.* attributes against the core's own AppendWeftAttrs.
func checkDecoded(t *testing.T, spans []*trace.SpanData, req *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	byID := map[trace.SpanID]*trace.SpanData{}
	for _, d := range spans {
		byID[d.SpanID] = d
	}
	seen := 0
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				seen++
				var sid trace.SpanID
				copy(sid[:], s.SpanId)
				d := byID[sid]
				if d == nil {
					t.Fatalf("decoded a span %x that was not sent", s.SpanId)
				}
				want := d.ServiceName()
				if want == "" {
					want = "unknown_service"
				}
				if service != want || ss.Scope.GetName() != d.Scope {
					t.Errorf("span %q under service %q scope %q, want %q %q", d.Name, service, ss.Scope.GetName(), want, d.Scope)
				}
				checkSpan(t, d, s)
			}
		}
	}
	if seen != len(spans) {
		t.Errorf("decoded %d spans, sent %d", seen, len(spans))
	}
}

func checkSpan(t *testing.T, d *trace.SpanData, s *tracepb.Span) {
	t.Helper()
	var parent []byte
	if d.ParentID.IsValid() {
		parent = d.ParentID[:]
	}
	if !bytes.Equal(s.TraceId, d.TraceID[:]) || !bytes.Equal(s.ParentSpanId, parent) || s.Name != d.Name ||
		int(s.Kind) != int(d.Kind) || s.StartTimeUnixNano != uint64(d.Start) || s.EndTimeUnixNano != uint64(d.End) ||
		s.TraceState != d.TraceState || s.Flags != uint32(d.Flags) {
		t.Errorf("span %q decoded as %v", d.Name, s)
	}
	if int(s.Status.GetCode()) != int(d.StatusCode) || s.Status.GetMessage() != d.StatusMessage {
		t.Errorf("span %q status %v", d.Name, s.Status)
	}
	if int(s.DroppedAttributesCount) != d.DroppedAttrs || int(s.DroppedEventsCount) != d.DroppedEvents || int(s.DroppedLinksCount) != d.DroppedLinks {
		t.Errorf("span %q dropped counts %d %d %d", d.Name, s.DroppedAttributesCount, s.DroppedEventsCount, s.DroppedLinksCount)
	}
	attrs := append([]trace.Attr(nil), d.Attrs...)
	if d.SpanResource != "" {
		attrs = append(attrs, trace.String("resource.name", d.SpanResource))
	}
	if d.SpanType != "" {
		attrs = append(attrs, trace.String("span.type", d.SpanType))
	}
	checkAttrs(t, d.Name, s.Attributes, d.AppendWeftAttrs(attrs))
	if len(s.Events) != len(d.Events) {
		t.Fatalf("span %q: %d events, want %d", d.Name, len(s.Events), len(d.Events))
	}
	for i, e := range d.Events {
		got := s.Events[i]
		if got.Name != e.Name || got.TimeUnixNano != uint64(e.Time) {
			t.Errorf("event %d decoded as %v", i, got)
		}
		checkAttrs(t, d.Name+"/"+e.Name, got.Attributes, e.AppendWeftAttrs(append([]trace.Attr(nil), e.Attrs...), d.Unit, d.TraceID))
	}
	if len(s.Links) != len(d.Links) {
		t.Fatalf("span %q: %d links, want %d", d.Name, len(s.Links), len(d.Links))
	}
	for i, l := range d.Links {
		got := s.Links[i]
		if !bytes.Equal(got.TraceId, l.SpanContext.TraceID[:]) || !bytes.Equal(got.SpanId, l.SpanContext.SpanID[:]) ||
			got.TraceState != l.SpanContext.TraceState || got.Flags != uint32(l.SpanContext.Flags) {
			t.Errorf("link %d decoded as %v", i, got)
		}
		checkAttrs(t, d.Name+"/link", got.Attributes, l.Attrs)
	}
}

func checkAttrs(t *testing.T, where string, got []*commonpb.KeyValue, want []trace.Attr) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d attributes %v, want %d %v", where, len(got), got, len(want), want)
		return
	}
	for i, a := range want {
		if got[i].Key != a.Key || !sameValue(got[i].Value, a.Value) {
			t.Errorf("%s: attribute %d is %v, want %v", where, i, got[i], a)
		}
	}
}

func sameValue(got *commonpb.AnyValue, v trace.Value) bool {
	same := func(n int, f func(i int) bool) bool {
		arr := got.GetArrayValue()
		if arr == nil && n > 0 || len(arr.GetValues()) != n {
			return false
		}
		for i := 0; i < n; i++ {
			if !f(i) {
				return false
			}
		}
		return true
	}
	switch v.Type() {
	case trace.TypeString:
		_, ok := got.Value.(*commonpb.AnyValue_StringValue)
		return ok && got.GetStringValue() == v.AsString()
	case trace.TypeInt64:
		_, ok := got.Value.(*commonpb.AnyValue_IntValue)
		return ok && got.GetIntValue() == v.AsInt64()
	case trace.TypeFloat64:
		_, ok := got.Value.(*commonpb.AnyValue_DoubleValue)
		return ok && math.Float64bits(got.GetDoubleValue()) == math.Float64bits(v.AsFloat64())
	case trace.TypeBool:
		_, ok := got.Value.(*commonpb.AnyValue_BoolValue)
		return ok && got.GetBoolValue() == v.AsBool()
	case trace.TypeStrings:
		xs := v.AsStrings()
		return same(len(xs), func(i int) bool { return got.GetArrayValue().Values[i].GetStringValue() == xs[i] })
	case trace.TypeInt64s:
		xs := v.AsInt64s()
		return same(len(xs), func(i int) bool { return got.GetArrayValue().Values[i].GetIntValue() == xs[i] })
	case trace.TypeFloat64s:
		xs := v.AsFloat64s()
		return same(len(xs), func(i int) bool {
			return math.Float64bits(got.GetArrayValue().Values[i].GetDoubleValue()) == math.Float64bits(xs[i])
		})
	case trace.TypeBools:
		xs := v.AsBools()
		return same(len(xs), func(i int) bool { return got.GetArrayValue().Values[i].GetBoolValue() == xs[i] })
	}
	return got.GetValue() == nil
}
