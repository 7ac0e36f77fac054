package ingest

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftrace/weft/model"
)

func compress(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zlib":
		w = zlib.NewWriter(&buf)
	case "raw":
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadBody(t *testing.T) {
	payload := bytes.Repeat([]byte("weft spans "), 100) // 1100 bytes, compresses well
	tests := []struct {
		name     string
		encoding string
		body     []byte
		limit    int64
		want     []byte
		status   int // of the error, 0 for none
		msg      string
	}{
		{"identity", "", payload, 0, payload, 0, ""},
		{"gzip", "gzip", compress(t, "gzip", payload), 0, payload, 0, ""},
		{"deflate zlib", "deflate", compress(t, "zlib", payload), 0, payload, 0, ""},
		{"deflate raw", "deflate", compress(t, "raw", payload), 0, payload, 0, ""},
		{"over the limit as sent", "", payload, 1000, nil, 413, "over the limit of 1000 bytes"},
		{"over the limit once decompressed", "gzip", compress(t, "gzip", payload), 1000, nil, 413, "once decompressed"},
		{"exactly the limit", "", payload, 1100, payload, 0, ""},
		{"bad gzip", "gzip", []byte("not gzip at all"), 0, nil, 400, "body is not valid gzip"},
		{"truncated gzip", "gzip", compress(t, "gzip", payload)[:20], 0, nil, 400, "body is not valid gzip"},
		{"unknown encoding", "br", payload, 0, nil, 400, `unsupported Content-Encoding "br"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(tt.body))
			if tt.encoding != "" {
				r.Header.Set("Content-Encoding", tt.encoding)
			}
			got, err := ReadBody(httptest.NewRecorder(), r, Options{MaxRequestBytes: tt.limit})
			if tt.status == 0 {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(tt.want))
				}
				return
			}
			if err == nil || HTTPStatus(err) != tt.status || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v (status %d), want status %d containing %q", err, HTTPStatus(err), tt.status, tt.msg)
			}
		})
	}
}

func TestReadBodyContentLengthOverLimit(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
	r.ContentLength = 1 << 30
	if _, err := ReadBody(httptest.NewRecorder(), r, Options{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge before reading", err)
	}
}

// FuzzReadBody: whatever a client sends, with whatever Content-Encoding, ReadBody gives the body (never more than
// the limit), a *TooLargeError or a *BadInputError; and a body compressed by a real encoder comes back unchanged.
// The second read of each input reuses the pooled gzip reader the first may have left failed.
func FuzzReadBody(f *testing.F) {
	payload := bytes.Repeat([]byte("weft spans "), 100)
	for _, enc := range []string{"gzip", "zlib", "raw"} {
		f.Add(uint8(0), compress(f, enc, payload), uint16(2000))
		f.Add(uint8(1), compress(f, enc, payload)[:20], uint16(0))
	}
	f.Add(uint8(3), payload, uint16(1000))
	encodings := []struct{ header, writer string }{{"gzip", "gzip"}, {"deflate", "zlib"}, {"deflate", "raw"}, {"", ""}, {"x-gzip", "gzip"}}
	// One writer of each kind, reset for every input: making them anew (their compressors' state is most of a
	// megabyte) was most of the time of an input.
	var buf bytes.Buffer
	raw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	writers := map[string]interface {
		io.WriteCloser
		Reset(io.Writer)
	}{"gzip": gzip.NewWriter(&buf), "zlib": zlib.NewWriter(&buf), "raw": raw}
	f.Fuzz(func(t *testing.T, pick uint8, body []byte, limit uint16) {
		e := encodings[int(pick)%len(encodings)]
		o := Options{MaxRequestBytes: int64(limit) + 1}
		read := func(b []byte) ([]byte, error) {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(b))
			if e.header != "" {
				r.Header.Set("Content-Encoding", e.header)
			}
			return ReadBody(httptest.NewRecorder(), r, o)
		}
		got, err := read(body)
		var bad *BadInputError
		switch {
		case err == nil:
			if int64(len(got)) > o.Limit() {
				t.Fatalf("%d bytes read, over the limit of %d", len(got), o.Limit())
			}
			if e.header == "" && !bytes.Equal(got, body) {
				t.Fatalf("identity body changed: %q became %q", body, got)
			}
		case errors.Is(err, ErrTooLarge), errors.As(err, &bad):
			if got != nil {
				t.Fatalf("%d bytes returned with %v", len(got), err)
			}
		default:
			t.Fatalf("error %v (%T) is neither a *TooLargeError nor a *BadInputError", err, err)
		}
		sent := body
		if w := writers[e.writer]; w != nil {
			buf.Reset()
			w.Reset(&buf)
			w.Write(body)
			w.Close()
			sent = buf.Bytes()
		}
		got, err = read(sent)
		switch {
		case int64(len(sent)) > o.Limit() || int64(len(body)) > o.Limit():
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%d bytes (%d sent) over the limit of %d: %v", len(body), len(sent), o.Limit(), err)
			}
		case err != nil || !bytes.Equal(got, body):
			t.Fatalf("%s round trip of %d bytes: %d bytes, %v", e.header, len(body), len(got), err)
		}
	})
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		retryAfter string
		body       string
		code       codes.Code
	}{
		{&BadInputError{Protocol: "zipkin", Msg: "span 3: bad id"}, 400, "", "zipkin: span 3: bad id", codes.InvalidArgument},
		{&OverloadError{RetryAfter: 1500 * time.Millisecond, Reason: "queue full"}, 429, "2", "overloaded: queue full", codes.ResourceExhausted},
		{fmt.Errorf("wrapped: %w", &OverloadError{Reason: "log busy"}), 429, "1", "log busy", codes.ResourceExhausted},
		{&TooLargeError{Limit: 10}, 413, "", "over the limit of 10 bytes", codes.ResourceExhausted},
		{errors.New("disk on fire"), 500, "", "internal error", codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, tt.err)
			if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retryAfter || !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("got %d Retry-After %q body %q; want %d %q containing %q", w.Code, w.Header().Get("Retry-After"), w.Body, tt.status, tt.retryAfter, tt.body)
			}
			if strings.Contains(w.Body.String(), "disk on fire") {
				t.Error("an internal error's details reached the client")
			}
			st := status.Convert(GRPCError(tt.err))
			if st.Code() != tt.code {
				t.Errorf("gRPC code %v, want %v", st.Code(), tt.code)
			}
			var hint *errdetails.RetryInfo
			for _, d := range st.Details() {
				if ri, ok := d.(*errdetails.RetryInfo); ok {
					hint = ri
				}
			}
			if (hint != nil) != (tt.retryAfter != "") {
				t.Errorf("RetryInfo detail %v, want one only on overload", hint)
			}
		})
	}
	if GRPCError(nil) != nil {
		t.Error("GRPCError(nil) is not nil")
	}
}

func TestMetrics(t *testing.T) {
	var nilMetrics *Metrics
	nilMetrics.Request("x", nil)
	nilMetrics.Received("x", 1)
	nilMetrics.Begin("x")()

	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	o := Options{Metrics: m}
	spans := []*model.Span{{}, {}, {}}
	if err := Deliver(t.Context(), ConsumerFunc(func(ctx context.Context, s []*model.Span) error { return nil }), o, "zipkin", spans); err != nil {
		t.Fatal(err)
	}
	over := &OverloadError{Reason: "full"}
	if err := Deliver(t.Context(), ConsumerFunc(func(ctx context.Context, s []*model.Span) error { return over }), o, "zipkin", spans[:2]); err != over {
		t.Fatalf("Deliver changed the consumer's error: %v", err)
	}
	m.Request("zipkin", over)
	m.Bytes("zipkin", 100)
	got := gather(t, reg)
	want := map[string]float64{
		`weft_ingest_spans_received_total{receiver="zipkin"}`:                   5,
		`weft_ingest_spans_accepted_total{receiver="zipkin"}`:                   3,
		`weft_ingest_spans_rejected_total{reason="overload",receiver="zipkin"}`: 2,
		`weft_ingest_requests_total{outcome="overload",receiver="zipkin"}`:      1,
		`weft_ingest_bytes_total{receiver="zipkin"}`:                            100,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

func TestExtractCausality(t *testing.T) {
	s := func(v string) model.Value { return model.String(v) }
	i := func(v int64) model.Value { return model.Int(v) }
	tests := []struct {
		name      string
		attrs     []model.Attr
		events    []model.Event
		want      model.Causality
		wantAttrs []model.Attr
		wantEvs   []model.Event
	}{
		{
			name: "full span",
			attrs: []model.Attr{{Key: "http.route", Value: s("/x")}, {Key: "weft.unit", Value: s("00000000000000b2")},
				{Key: "weft.seq.start", Value: i(1)}, {Key: "weft.seq.end", Value: i(9)}, {Key: "weft.unit.end", Value: s("00000000000000c3")},
				{Key: "weft.cause", Value: s("4bf92f3577b34da6a3ce929d0e0e4736:00000000000000a1:7")}},
			want:      model.Causality{Unit: 0xb2, StartSeq: 1, EndSeq: 9, EndUnit: 0xc3, StartCause: model.EventRef{TraceID: model.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}, Unit: 0xa1, Seq: 7}},
			wantAttrs: []model.Attr{{Key: "http.route", Value: s("/x")}},
		},
		{
			name:  "seq as decimal strings (Zipkin, Jaeger tags)",
			attrs: []model.Attr{{Key: "weft.unit", Value: s("00000000000000b2")}, {Key: "weft.seq.start", Value: s("3")}, {Key: "weft.seq.end", Value: s("4")}},
			want:  model.Causality{Unit: 0xb2, StartSeq: 3, EndSeq: 4},
		},
		{
			name:      "no unit: a foreign span keeps everything",
			attrs:     []model.Attr{{Key: "weft.seq.start", Value: i(1)}},
			wantAttrs: []model.Attr{{Key: "weft.seq.start", Value: i(1)}},
		},
		{
			name:      "malformed unit",
			attrs:     []model.Attr{{Key: "weft.unit", Value: s("B2")}, {Key: "weft.seq.start", Value: i(1)}},
			wantAttrs: []model.Attr{{Key: "weft.unit", Value: s("B2")}, {Key: "weft.seq.start", Value: i(1)}},
		},
		{
			name:      "zero unit",
			attrs:     []model.Attr{{Key: "weft.unit", Value: s("0000000000000000")}},
			wantAttrs: []model.Attr{{Key: "weft.unit", Value: s("0000000000000000")}},
		},
		{
			name: "malformed values stay as attributes",
			attrs: []model.Attr{{Key: "weft.unit", Value: s("00000000000000b2")}, {Key: "weft.seq.start", Value: i(-1)},
				{Key: "weft.seq.end", Value: i(1 << 40)}, {Key: "weft.cause", Value: s("a1:7")}, {Key: "weft.unit.end", Value: i(5)}},
			wantAttrs: []model.Attr{{Key: "weft.unit", Value: s("00000000000000b2")}, {Key: "weft.seq.start", Value: i(-1)},
				{Key: "weft.seq.end", Value: i(1 << 40)}, {Key: "weft.cause", Value: s("a1:7")}, {Key: "weft.unit.end", Value: i(5)}},
		},
		{
			name:      "one malformed value: no causality at all",
			attrs:     []model.Attr{{Key: "weft.unit", Value: s("00000000000000b2")}, {Key: "weft.seq.start", Value: i(1)}, {Key: "weft.seq.end", Value: s("x")}},
			wantAttrs: []model.Attr{{Key: "weft.unit", Value: s("00000000000000b2")}, {Key: "weft.seq.start", Value: i(1)}, {Key: "weft.seq.end", Value: s("x")}},
		},
		{
			name:  "events",
			attrs: []model.Attr{{Key: "weft.unit", Value: s("00000000000000b2")}},
			events: []model.Event{
				{Name: "weft.fork", Attrs: []model.Attr{{Key: "weft.seq", Value: i(2)}}},
				{Name: "weft.join", Attrs: []model.Attr{{Key: "weft.seq", Value: i(8)}, {Key: "weft.unit", Value: s("00000000000000c3")}, {Key: "weft.cause", Value: s("00000000000000d4:4")}, {Key: "n", Value: i(1)}}},
				{Name: "same unit", Attrs: []model.Attr{{Key: "weft.seq", Value: i(9)}, {Key: "weft.unit", Value: s("00000000000000b2")}}},
				{Name: "bad", Attrs: []model.Attr{{Key: "weft.seq", Value: s("x")}}},
				{Name: "foreign", Attrs: []model.Attr{{Key: "k", Value: s("v")}}},
			},
			want: model.Causality{Unit: 0xb2},
			wantEvs: []model.Event{
				{Name: "weft.fork", Seq: 2},
				{Name: "weft.join", Seq: 8, Unit: 0xc3, Cause: model.EventRef{Unit: 0xd4, Seq: 4}, Attrs: []model.Attr{{Key: "n", Value: i(1)}}},
				{Name: "same unit", Seq: 9},
				{Name: "bad", Attrs: []model.Attr{{Key: "weft.seq", Value: s("x")}}},
				{Name: "foreign", Attrs: []model.Attr{{Key: "k", Value: s("v")}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := &model.Span{Attrs: tt.attrs, Events: tt.events}
			ExtractCausality(sp)
			if sp.Causality != tt.want {
				t.Errorf("causality %+v, want %+v", sp.Causality, tt.want)
			}
			if !reflect.DeepEqual(sp.Attrs, tt.wantAttrs) {
				t.Errorf("attrs %+v, want %+v", sp.Attrs, tt.wantAttrs)
			}
			if !reflect.DeepEqual(sp.Events, tt.wantEvs) {
				t.Errorf("events %+v, want %+v", sp.Events, tt.wantEvs)
			}
		})
	}
}

// TestCausalityAttrsRoundTrip: the attributes an exporter writes are what ExtractCausality reads.
func TestCausalityAttrsRoundTrip(t *testing.T) {
	c := model.Causality{Unit: 0xfeedface, StartSeq: 4, EndUnit: 0xbeef, EndSeq: 12, StartCause: model.EventRef{TraceID: model.TraceID{1}, Unit: 9, Seq: 3}}
	e := model.Event{Name: "weft.join", Seq: 7, Unit: 0xbeef, Cause: model.EventRef{Unit: 0xabc, Seq: 2}}
	sp := &model.Span{Attrs: CausalityAttrs(c), Events: []model.Event{{Name: "weft.join", Attrs: EventCausalityAttrs(&e)}}}
	ExtractCausality(sp)
	if sp.Causality != c || len(sp.Attrs) != 0 {
		t.Errorf("got %+v with attrs %v, want %+v", sp.Causality, sp.Attrs, c)
	}
	if !reflect.DeepEqual(sp.Events[0], e) {
		t.Errorf("event %+v, want %+v", sp.Events[0], e)
	}
}

func FuzzExtractCausality(f *testing.F) {
	f.Add("00000000000000b2", int64(1), "00000000000000a1:7", "4bf92f3577b34da6a3ce929d0e0e4736:00000000000000a1:7", "3")
	f.Add("zz", int64(-1), ":", "::", "")
	f.Fuzz(func(t *testing.T, unit string, seq int64, cause, eventCause, eventSeq string) {
		sp := &model.Span{
			Attrs: []model.Attr{{Key: "weft.unit", Value: model.String(unit)}, {Key: "weft.seq.start", Value: model.Int(seq)},
				{Key: "weft.cause", Value: model.String(cause)}, {Key: "weft.unit.end", Value: model.String(cause)}},
			Events: []model.Event{{Attrs: []model.Attr{{Key: "weft.seq", Value: model.String(eventSeq)}, {Key: "weft.cause", Value: model.String(eventCause)}, {Key: "weft.unit", Value: model.String(unit)}}}},
		}
		ExtractCausality(sp)
		if sp.Causality.IsZero() && len(sp.Attrs) != 4 {
			t.Fatalf("a span without a unit lost attributes: %v", sp.Attrs)
		}
		if r, ok := ParseEventRef(cause); ok {
			if r.Unit == 0 {
				t.Fatalf("event ref %q parsed with a zero unit", cause)
			}
			if again, ok := ParseEventRef(FormatEventRef(r)); !ok || again != r {
				t.Fatalf("event ref %q does not round-trip: %+v", cause, r)
			}
		}
	})
}

func TestExtractUnitary(t *testing.T) {
	tests := []struct {
		value   model.Value
		flag    bool
		removed bool
	}{
		{model.Bool(true), true, true},
		{model.String("true"), true, true},
		{model.Bool(false), false, true},
		{model.String("yes"), false, false},
	}
	for _, tt := range tests {
		sp := &model.Span{Attrs: []model.Attr{{Key: "k", Value: model.Int(1)}, {Key: "weft.unitary", Value: tt.value}}}
		ExtractCausality(sp)
		if (sp.Flags&model.FlagUnitary != 0) != tt.flag || (len(sp.Attrs) == 1) != tt.removed {
			t.Errorf("weft.unitary=%v: flags %b attrs %v", tt.value.AsString(), sp.Flags, sp.Attrs)
		}
	}
	sp := &model.Span{Flags: model.FlagUnitary, Causality: model.Causality{Unit: 1, StartSeq: 1, EndSeq: 2}}
	back := &model.Span{Attrs: SpanWeftAttrs(sp)}
	ExtractCausality(back)
	if back.Flags != sp.Flags || back.Causality != sp.Causality || back.Attrs != nil {
		t.Errorf("SpanWeftAttrs does not round-trip: %+v", back)
	}
}

func TestNormalize(t *testing.T) {
	a := func(kv ...string) []model.Attr {
		var out []model.Attr
		for i := 0; i < len(kv); i += 2 {
			out = append(out, model.Attr{Key: kv[i], Value: model.String(kv[i+1])})
		}
		return out
	}
	tests := []struct {
		name         string
		span         model.Span
		resource, ty string
	}{
		{"http server route", model.Span{Kind: model.KindServer, Attrs: a("http.request.method", "GET", "http.route", "/users/{id}", "url.path", "/users/7")}, "GET /users/{id}", "web"},
		{"old http server target", model.Span{Kind: model.KindServer, Attrs: a("http.method", "POST", "http.target", "/pair?beer=ipa")}, "POST /pair", "web"},
		{"http client url", model.Span{Kind: model.KindClient, Attrs: a("http.request.method", "GET", "url.full", "http://taster:8080/taste?x=1")}, "GET /taste", "http"},
		{"db statement", model.Span{Kind: model.KindClient, Attrs: a("db.system", "postgresql", "db.statement", "SELECT 1")}, "SELECT 1", "db"},
		{"db query text wins", model.Span{Attrs: a("db.statement", "old", "db.query.text", "new")}, "new", "db"},
		{"redis", model.Span{Attrs: a("db.system", "redis", "db.operation", "GET")}, "GET", "cache"},
		{"rpc", model.Span{Attrs: a("rpc.system", "grpc", "rpc.service", "taster.Taster", "rpc.method", "Taste")}, "taster.Taster/Taste", "rpc"},
		{"messaging", model.Span{Kind: model.KindProducer, Attrs: a("messaging.system", "kafka", "messaging.destination.name", "pairings")}, "pairings", "queue"},
		{"nothing applies", model.Span{Attrs: a("k", "v")}, "", ""},
		{"client values kept", model.Span{SpanResource: "mine", SpanType: "custom", Attrs: a("http.route", "/x")}, "mine", "custom"},
		{"datadog fields as attributes", model.Span{Kind: model.KindServer, Attrs: a("resource.name", "GET /pair/beer", "span.type", "web", "http.route", "/other")}, "GET /pair/beer", "web"},
		{"resource.name only", model.Span{Kind: model.KindClient, Attrs: a("resource.name", "SELECT beers", "db.system", "sqlite", "db.statement", "SELECT *")}, "SELECT beers", "db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.span
			Normalize(&s)
			if s.SpanResource != tt.resource || s.SpanType != tt.ty {
				t.Errorf("got %q %q, want %q %q", s.SpanResource, s.SpanType, tt.resource, tt.ty)
			}
			for _, a := range s.Attrs {
				if (a.Key == "resource.name" && a.Value.Str == s.SpanResource) || (a.Key == "span.type" && a.Value.Str == s.SpanType) {
					t.Errorf("%s left among the attributes after it became the span's field", a.Key)
				}
			}
		})
	}
	s := model.Span{Duration: -5, Kind: 42}
	Normalize(&s)
	if s.Duration != 0 || s.Kind != model.KindUnspecified {
		t.Errorf("negative duration or bad kind kept: %+v", s)
	}
}
