package weft

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var base = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).UnixNano()

var (
	traceA = model.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	traceB = model.TraceID{10: 0x12, 11: 0x34, 12: 0x56, 13: 0x78, 14: 0x9a, 15: 0xbc}
)

func sid(b byte) model.SpanID { return model.SpanID{0xa0, 0, 0, 0, 0, 0, 0, b} }

// fixtureSpans: trace A (128-bit) is a weft-library trace: frontend → café-ñ (error; a goroutine joined) → db;
// trace B (64-bit) is a foreign two-span trace.
func fixtureSpans() []*model.Span {
	frontend := &model.Resource{Service: "frontend", Attrs: []model.Attr{{Key: "host.name", Value: model.String("web-1")}}}
	cafe := &model.Resource{Service: "café-ñ", Attrs: []model.Attr{{Key: "host.name", Value: model.String("web-2")}}}
	db := &model.Resource{Service: "db"}
	return []*model.Span{
		{TraceID: traceA, SpanID: sid(1), Name: "GET /cart", Kind: model.KindServer, Start: base, Duration: 5_000_000, Resource: frontend,
			StatusCode: model.StatusOK, Scope: "net/http", ScopeVersion: "1.0", SpanResource: "GET /cart", SpanType: "web", TraceState: "weft=0000000000000099:2",
			Attrs: []model.Attr{
				{Key: "http.method", Value: model.String("GET")},
				{Key: "http.status_code", Value: model.Int(200)},
				{Key: "ratio", Value: model.Float(0.5)},
				{Key: "cached", Value: model.Bool(true)},
				{Key: "blob", Value: model.Bytes([]byte{1, 2, 3})},
				{Key: "list", Value: model.Array(model.String("a"), model.Int(1))},
				{Key: "map", Value: model.Value{Type: model.TypeMap, Map: []model.Attr{{Key: "k", Value: model.Float(0)}}}},
				{Key: "größe", Value: model.String("groß")},
			},
			Causality: model.Causality{Unit: 0x1111, StartSeq: 1, EndSeq: 4, StartCause: model.EventRef{TraceID: traceB, Unit: 0x99, Seq: 2}}},
		{TraceID: traceA, SpanID: sid(2), ParentID: sid(1), Name: "getCart", Kind: model.KindServer, Start: base + 1_000_000, Duration: 3_000_000,
			Resource: cafe, StatusCode: model.StatusError, StatusMessage: "no cart",
			Events: []model.Event{
				{Time: base + 1_200_000, Name: "weft.fork", Seq: 2},
				{Time: base + 2_000_000, Name: "weft.join", Attrs: []model.Attr{{Key: "n", Value: model.Int(2)}}, Seq: 5, Cause: model.EventRef{Unit: 0x3333, Seq: 3}},
				{Time: base + 2_500_000, Name: "cache miss"},
			},
			Links:     []model.Link{{TraceID: traceB, SpanID: sid(9), Attrs: []model.Attr{{Key: "why", Value: model.String("retry")}}}},
			Causality: model.Causality{Unit: 0x2222, StartSeq: 1, EndSeq: 6, StartCause: model.EventRef{Unit: 0x1111, Seq: 2}}},
		{TraceID: traceA, SpanID: sid(3), ParentID: sid(2), Name: "SELECT", Kind: model.KindClient, Start: base + 1_500_000, Duration: 1_000_000,
			Resource: db, Attrs: []model.Attr{{Key: "db.statement", Value: model.String("SELECT * FROM carts")}},
			Causality: model.Causality{Unit: 0x3333, StartSeq: 1, EndUnit: 0x4444, EndSeq: 9, StartCause: model.EventRef{Unit: 0x2222, Seq: 2}}},
		{TraceID: traceB, SpanID: sid(9), Name: "GET /home", Kind: model.KindServer, Start: base + 10_000_000, Duration: 2_000_000, Resource: frontend,
			Flags: model.FlagUnitary},
		{TraceID: traceB, SpanID: sid(10), ParentID: sid(9), Name: "render", Start: base + 10_100_000, Duration: 1_000_000, Resource: frontend,
			Attrs: []model.Attr{{Key: "http.method", Value: model.String("POST")}}},
	}
}

func newHandler(t testing.TB) http.Handler {
	s := memstore.New()
	if err := s.Write(context.Background(), fixtureSpans()); err != nil {
		t.Fatal(err)
	}
	return NewHandler(s, Options{Now: func() time.Time { return time.Unix(0, base).Add(time.Hour) }})
}

func get(t testing.TB, h http.Handler, path string) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Body)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if !json.Valid(body) {
		t.Errorf("GET %s: invalid JSON %s", path, body)
	}
	return rec, body
}

func TestEndpoints(t *testing.T) {
	h := newHandler(t)
	const p = Prefix
	const a, b = `"traceID":"4bf92f3577b34da6a3ce929d0e0e4736"`, `"traceID":"00000000000000000000123456789abc"`
	us := func(ns int64) string { return strconv.FormatInt(ns/1000, 10) }
	tests := []struct {
		name   string
		path   string
		status int
		want   []string
		not    []string
	}{
		{"services", p + "services", 200, []string{`{"services":["café-ñ","db","frontend"]}`}, nil},
		{"operations", p + "operations?service=frontend", 200, []string{`{"operations":[{"name":"GET /cart","kind":"server"},{"name":"GET /home","kind":"server"},{"name":"render","kind":"unspecified"}]}`}, nil},
		{"operations by kind", p + "operations?kind=client", 200, []string{`{"operations":[{"name":"SELECT","kind":"client"}]}`}, nil},
		{"operations bad kind", p + "operations?kind=x", 400, []string{`"error":"kind \"x\"`}, nil},
		{"trace", p + "traces/4bf92f3577b34da6a3ce929d0e0e4736", 200, []string{a, `"units":[`}, nil},
		{"trace 64-bit", p + "traces/123456789abc", 200, []string{b, `"flags":["unitary"]`}, nil},
		{"trace not found", p + "traces/4bf92f3577b34da6a3ce929d0e0e4737", 404, []string{`{"error":"trace 4bf92f3577b34da6a3ce929d0e0e4737 not found"}`}, nil},
		{"trace bad ID", p + "traces/xyz", 400, []string{`{"error":"trace ID \"xyz\" is not 1 to 32 hex digits"}`}, nil},
		{"otlp not found", p + "traces/1/otlp", 404, []string{`not found`}, nil},
		{"search all", p + "search", 200, []string{`{"traces":[{` + b, a, `"limit":20`, `"query":""`}, nil},
		{"search q", p + "search?q=" + esc(`http.method = "GET" AND duration > 1ms`), 200, []string{a, `"query":"http.method = \"GET\" AND duration > 1ms"`}, []string{b}},
		{"search q or", p + "search?q=" + esc(`status = error OR http.method = POST`), 200, []string{a, b}, nil},
		{"search q non-ASCII", p + "search?q=" + esc(`größe = "groß"`), 200, []string{a}, []string{b}},
		{"search q event", p + "search?q=" + esc(`event = "cache miss"`), 200, []string{a}, []string{b}},
		{"search q resource", p + "search?q=" + esc(`resource.host.name = "web-2"`), 200, []string{a}, []string{b}},
		{"search service", p + "search?service=" + esc("café-ñ"), 200, []string{a, `"rootService":"frontend","rootName":"GET /cart"`}, []string{b}},
		{"search operation", p + "search?service=frontend&operation=render", 200, []string{b}, []string{a}},
		{"search kind", p + "search?kind=client", 200, []string{a}, []string{b}},
		{"search min duration", p + "search?minDuration=4ms", 200, []string{a}, []string{b}},
		{"search max duration", p + "search?service=frontend&maxDuration=2ms", 200, []string{b}, []string{a}},
		{"search start end ns", p + "search?start=" + us(base+5_000_000) + "&end=" + us(base+20_000_000), 200, []string{b}, []string{a}},
		{"search start end RFC 3339", p + "search?start=2026-11-22T12:00:00.005Z&end=2026-11-22T12:00:01Z", 200, []string{b}, []string{a}},
		{"search lookback", p + "search?lookback=30m", 200, []string{`"traces":[]`}, nil},
		{"search lookback days", p + "search?lookback=1d", 200, []string{a, b}, nil},
		{"search limit", p + "search?limit=1", 200, []string{b, `"limit":1`}, []string{a}},
		{"search limit capped", p + "search?limit=5000", 200, []string{`"limit":1000`}, nil},
		{"search summary", p + "search?service=db", 200, []string{`{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","rootService":"frontend","rootName":"GET /cart","start":` + us(base) + `,"duration":5000,"spanCount":3,"errorCount":1,"services":[{"service":"café-ñ","spans":1},{"service":"db","spans":1},{"service":"frontend","spans":1}]}`}, nil},
		{"search bad q", p + "search?q=" + esc(`duration > 100`), 400, []string{`"error":"search: column 12: duration compares with a duration that has a unit`, `"column":12`}, nil},
		{"search q too long", p + "search?q=" + strings.Repeat("a", 17<<10), 400, []string{`more than the 16384 allowed`}, nil},
		{"search bad minDuration", p + "search?minDuration=soon", 400, []string{`"error":"minDuration: \"soon\" is not a duration`}, nil},
		{"search max below min", p + "search?minDuration=2s&maxDuration=1s", 400, []string{`maxDuration is less than minDuration`}, nil},
		{"search bad start", p + "search?start=yesterday", 400, []string{`"error":"start: \"yesterday\" is neither Unix microseconds nor an RFC 3339 time"`}, nil},
		{"search start after end", p + "search?start=" + us(base) + "&end=" + us(base-1000), 400, []string{`start is after end`}, nil},
		{"search bad end", p + "search?end=-1", 400, []string{`"error":"end:`}, nil},
		{"search bad lookback", p + "search?lookback=-1h", 400, []string{`lookback`}, nil},
		{"search bad limit", p + "search?limit=-1", 400, []string{`limit`}, nil},
		{"search bad kind", p + "search?kind=sideways", 400, []string{`kind`}, nil},
		{"keys", p + "attributes/keys", 200, []string{`{"intrinsics":["service","name","duration","status","kind","event"],"keys":["blob","cached","db.statement","größe","host.name","http.method","http.status_code","list","map","ratio"]}`}, nil},
		{"values", p + "attributes/values?key=http.method", 200, []string{`{"key":"http.method","values":["GET","POST"]}`}, nil},
		{"values prefix", p + "attributes/values?key=http.method&prefix=P", 200, []string{`"values":["POST"]`}, nil},
		{"values limit", p + "attributes/values?key=http.method&limit=1", 200, []string{`"values":["GET"]`}, nil},
		{"values scoped key", p + "attributes/values?key=resource.host.name", 200, []string{`{"key":"host.name","values":["web-1","web-2"]}`}, nil},
		{"values int", p + "attributes/values?key=http.status_code", 200, []string{`"values":["200"]`}, nil},
		{"values service", p + "attributes/values?key=service&prefix=caf", 200, []string{`{"key":"service","values":["café-ñ"]}`}, nil},
		{"values name", p + "attributes/values?key=name&service=frontend", 200, []string{`"values":["GET /cart","GET /home","render"]`}, nil},
		{"values status", p + "attributes/values?key=status", 200, []string{`"values":["error","ok","unset"]`}, nil},
		{"values kind prefix", p + "attributes/values?key=kind&prefix=c", 200, []string{`"values":["client","consumer"]`}, nil},
		{"values unknown key", p + "attributes/values?key=nope", 200, []string{`"values":[]`}, nil},
		{"values without key", p + "attributes/values", 400, []string{`{"error":"key is required"}`}, nil},
		{"keys, UI path", p + "attributes", 200, []string{`"keys":["blob",`}, nil},
		{"values, UI path", p + "attributes/http.method/values?prefix=G&limit=50", 200, []string{`{"key":"http.method","values":["GET"]}`}, nil},
		{"values, UI path non-ASCII", p + "attributes/gr%C3%B6%C3%9Fe/values", 200, []string{`{"key":"größe","values":["groß"]}`}, nil},
		{"search duration in µs", p + "search?minDuration=4000", 200, []string{a}, []string{b}},
		{"values bad limit", p + "attributes/values?key=a&limit=x", 400, []string{`limit`}, nil},
		{"unknown", p + "nope", 404, []string{`{"error":"no such endpoint: GET /api/weft/v1/nope"}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := get(t, h, tt.path)
			if rec.Code != tt.status {
				t.Errorf("GET %s: status %d, want %d; body %s", tt.path, rec.Code, tt.status, body)
			}
			for _, w := range tt.want {
				if !bytes.Contains(body, []byte(w)) {
					t.Errorf("GET %s: body lacks %s\nbody: %s", tt.path, w, body)
				}
			}
			for _, w := range tt.not {
				if bytes.Contains(body, []byte(w)) {
					t.Errorf("GET %s: body has %s\nbody: %s", tt.path, w, body)
				}
			}
		})
	}
}

func esc(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(urlQuery(s), "+", "%20"), " ", "%20")
}

func TestGolden(t *testing.T) {
	h := newHandler(t)
	for _, g := range []struct{ path, file string }{
		{Prefix + "traces/4bf92f3577b34da6a3ce929d0e0e4736", "trace.json"},
		{Prefix + "traces/4bf92f3577b34da6a3ce929d0e0e4736/otlp", "trace.otlp.json"},
		{Prefix + "search?q=" + esc("status = error"), "search.json"},
	} {
		rec, body := get(t, h, g.path)
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", g.path, rec.Code, body)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, body, "", "  "); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", g.file)
		if *update {
			os.WriteFile(path, pretty.Bytes(), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pretty.Bytes(), want) {
			t.Errorf("GET %s differs from %s (go test -update rewrites it):\n%s", g.path, path, pretty.Bytes())
		}
	}
	rec, _ := get(t, h, Prefix+"traces/4bf92f3577b34da6a3ce929d0e0e4736/otlp")
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="trace-4bf92f3577b34da6a3ce929d0e0e4736.otlp.json"` {
		t.Errorf("Content-Disposition %q", cd)
	}
}

// TestTraceUnits checks the execution units and causal fields the UI and analysis rely on.
func TestTraceUnits(t *testing.T) {
	h := newHandler(t)
	_, body := get(t, h, Prefix+"traces/4bf92f3577b34da6a3ce929d0e0e4736")
	var tr Trace
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	units := map[string]Unit{}
	for _, u := range tr.Units {
		units[u.Unit] = u
	}
	want := map[string]Unit{
		"0000000000001111": {Unit: "0000000000001111", Service: "frontend", Spans: []string{sid(1).String()}, Events: 2, MinSeq: 1, MaxSeq: 4},
		"0000000000002222": {Unit: "0000000000002222", Service: "café-ñ", Spans: []string{sid(2).String()}, Events: 4, MinSeq: 1, MaxSeq: 6},
		"0000000000003333": {Unit: "0000000000003333", Service: "db", Spans: []string{sid(3).String()}, Events: 1, MinSeq: 1, MaxSeq: 1},
		"0000000000004444": {Unit: "0000000000004444", Service: "db", Spans: []string{}, Events: 1, MinSeq: 9, MaxSeq: 9},
	}
	if len(units) != len(want) {
		t.Errorf("units = %+v", tr.Units)
	}
	for k, w := range want {
		got := units[k]
		if got.Unit != w.Unit || got.Service != w.Service || strings.Join(got.Spans, ",") != strings.Join(w.Spans, ",") ||
			got.Events != w.Events || got.MinSeq != w.MinSeq || got.MaxSeq != w.MaxSeq {
			t.Errorf("unit %s = %+v, want %+v", k, got, w)
		}
	}
	ev := tr.Spans[1].Events
	if ev[1].Unit != "0000000000002222" || ev[1].Seq != 5 || ev[1].Cause == nil || ev[1].Cause.Unit != "0000000000003333" || ev[1].Cause.Seq != 3 {
		t.Errorf("join event = %+v", ev[1])
	}
	if ev[2].Unit != "" || ev[2].Seq != 0 || ev[2].Cause != nil {
		t.Errorf("foreign event = %+v", ev[2])
	}
	if c := tr.Spans[0].Causality; c == nil || c.StartCause == nil || c.StartCause.TraceID != traceB.String() {
		t.Errorf("cross-trace cause = %+v", c)
	}
	if tr.Spans[1].Offset != 1_000_000 || tr.Start != strconv.FormatInt(base, 10) || tr.Duration != 5_000_000 {
		t.Errorf("times: start %s, offset %d, duration %d", tr.Start, tr.Spans[1].Offset, tr.Duration)
	}
}

func TestAuthorize(t *testing.T) {
	h := NewHandler(memstore.New(), Options{Authorize: func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer t" {
			return errors.New("bearer token required")
		}
		return nil
	}})
	rec, body := get(t, h, Prefix+"services")
	if rec.Code != 401 || !bytes.Contains(body, []byte(`{"error":"bearer token required"}`)) {
		t.Errorf("%d %s", rec.Code, body)
	}
	req := httptest.NewRequest("GET", Prefix+"services", nil)
	req.Header.Set("Authorization", "Bearer t")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "{\"services\":[]}\n" {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

func TestParseTimeAndDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false}, {"1795348800000000", 1795348800000000000, false}, {"2026-11-22T12:00:00Z", base, false},
		{"9223372036854776", 0, true},
		{"2026-11-22T13:00:00+01:00", base, false}, {"-1", 0, true}, {"1e9", 0, true}, {"1969-12-31T00:00:00Z", 0, true},
		{"3000-01-01T00:00:00Z", 0, true}, {"", 0, true},
	} {
		got, err := ParseTime(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseTime(%q) = %d, %v", tt.in, got, err)
		}
	}
	for _, tt := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"150ms", 150 * time.Millisecond, false}, {"7d", 7 * 24 * time.Hour, false}, {"0", 0, false}, {"1500", 1500 * time.Microsecond, false},
		{"-1s", 0, true}, {"1w", 0, true}, {"d", 0, true}, {"", 0, true}, {"-5", 0, true}, {"9223372036854776", 0, true},
	} {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0", "2026-11-22T12:00:00Z", "9223372036854775807", "2262-04-11T23:47:16.854775808Z", "150ms", "99999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseTime(s); err == nil && n < 0 {
			t.Fatalf("ParseTime(%q) = %d", s, n)
		}
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		}
	})
}

func urlQuery(s string) string {
	return (&url.URL{RawQuery: url.Values{"x": {s}}.Encode()}).RawQuery[2:]
}

// FuzzSearchQuery sends arbitrary query strings to /search: the answer is 200 or 400 with a JSON body, never a
// panic or a 500.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"q=status%20%3D%20error", "minDuration=1ms&maxDuration=1h", "start=0&end=1", "lookback=7d&limit=3",
		"q=%28%28a", "kind=server&service=x", "start=2026-11-22T12:00:00Z", "q=a%20%3D%7E%20%22%5B%22"} {
		f.Add(s)
	}
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", Prefix+"search", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("?%s: %d %s", raw, rec.Code, rec.Body)
		}
	})
}

func TestFallback(t *testing.T) {
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := NewHandler(memstore.New(), Options{Fallback: other})
	for path, want := range map[string]int{Prefix + "services": 200, Prefix + "aggregate": http.StatusTeapot, Prefix + "traces/ab/critical-path": http.StatusTeapot} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}
