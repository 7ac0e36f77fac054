package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
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

// base is the start of the fixture traces; the handler's clock stands one hour later.
var base = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).UnixNano()

var (
	traceA = model.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	traceB = model.TraceID{8: 0x00, 9: 0x00, 10: 0x12, 11: 0x34, 12: 0x56, 13: 0x78, 14: 0x9a, 15: 0xbc}
)

func sid(b byte) model.SpanID { return model.SpanID{0xa0, 0, 0, 0, 0, 0, 0, b} }

// fixture fills a memstore with two traces:
//
//	A (128-bit ID): frontend "GET /cart" (server) → café-ñ "getCart" (server, error, a causal event) → db "SELECT" (client)
//	B (64-bit ID, Zipkin shared span): frontend "GET /home" → cart "getHome" sharing the client's ID
func fixture(t testing.TB) *memstore.Store {
	frontend := &model.Resource{Service: "frontend", Attrs: []model.Attr{{Key: "host.name", Value: model.String("web-1")}}}
	cafe := &model.Resource{Service: "café-ñ", Attrs: []model.Attr{{Key: "host.name", Value: model.String("web-2")}}}
	db := &model.Resource{Service: "db"}
	s := memstore.New()
	spans := []*model.Span{
		{TraceID: traceA, SpanID: sid(1), Name: "GET /cart", Kind: model.KindServer, Start: base, Duration: 5_000_000, Resource: frontend,
			StatusCode: model.StatusOK, Scope: "net/http", ScopeVersion: "1.0",
			Attrs: []model.Attr{
				{Key: "http.method", Value: model.String("GET")},
				{Key: "http.status_code", Value: model.Int(200)},
				{Key: "ratio", Value: model.Float(0.5)},
				{Key: "cached", Value: model.Bool(true)},
				{Key: "blob", Value: model.Bytes([]byte{1, 2, 3})},
				{Key: "tags", Value: model.Array(model.String("a"), model.Int(1))},
				{Key: "größe", Value: model.String("groß")},
			},
			Causality: model.Causality{Unit: 0x1111, StartSeq: 1, EndSeq: 4}},
		{TraceID: traceA, SpanID: sid(2), ParentID: sid(1), Name: "getCart", Kind: model.KindServer, Start: base + 1_000_000, Duration: 3_000_000,
			Resource: cafe, StatusCode: model.StatusError, StatusMessage: "no cart",
			Events: []model.Event{{Time: base + 2_000_000, Name: "weft.join", Attrs: []model.Attr{{Key: "n", Value: model.Int(2)}},
				Unit: 0x2222, Seq: 3, Cause: model.EventRef{Unit: 0x3333, Seq: 7}}},
			Links:     []model.Link{{TraceID: traceB, SpanID: sid(9)}},
			Causality: model.Causality{Unit: 0x2222, StartSeq: 1, EndSeq: 5, StartCause: model.EventRef{Unit: 0x1111, Seq: 2}}},
		{TraceID: traceA, SpanID: sid(3), ParentID: sid(2), Name: "SELECT", Kind: model.KindClient, Start: base + 1_500_000, Duration: 1_000_000,
			Resource: db, Attrs: []model.Attr{{Key: "db.statement", Value: model.String("SELECT * FROM carts")}}},
		{TraceID: traceB, SpanID: sid(9), Name: "GET /home", Kind: model.KindServer, Start: base + 10_000_000, Duration: 2_000_000, Resource: frontend},
		{TraceID: traceB, SpanID: sid(10), ParentID: sid(9), Name: "getHome", Kind: model.KindClient, Start: base + 10_100_000, Duration: 1_000_000, Resource: frontend},
		{TraceID: traceB, SpanID: sid(10), ParentID: sid(9), Name: "getHome", Kind: model.KindServer, Start: base + 10_200_000, Duration: 800_000,
			Resource: &model.Resource{Service: "cart"}, Flags: model.FlagShared},
		{TraceID: traceB, SpanID: sid(11), ParentID: sid(10), Name: "load", Start: base + 10_300_000, Duration: 100_000,
			Resource: &model.Resource{Service: "cart"}},
	}
	if err := s.Write(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	return s
}

func newServer(t testing.TB) *httptest.Server {
	h := NewHandler(fixture(t), Options{Now: func() time.Time { return time.Unix(0, base).Add(time.Hour) }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t testing.TB, srv *httptest.Server, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return resp.StatusCode, body
}

func TestEndpoints(t *testing.T) {
	srv := newServer(t)
	us := func(ns int64) string { return itoa(ns / 1000) }
	tests := []struct {
		name   string
		path   string
		status int
		want   []string // substrings of the body
		not    []string
	}{
		{"services", "/api/services", 200, []string{`{"data":["café-ñ","cart","db","frontend"],"total":4,"limit":0,"offset":0,"errors":null}`}, nil},
		{"service operations", "/api/services/frontend/operations", 200, []string{`"data":["GET /cart","GET /home","getHome"],"total":3`}, nil},
		{"non-ASCII service operations", "/api/services/caf%C3%A9-%C3%B1/operations", 200, []string{`"data":["getCart"]`}, nil},
		{"unknown service operations", "/api/services/nope/operations", 200, []string{`"data":[],"total":0`}, nil},
		{"operations", "/api/operations?service=frontend", 200,
			[]string{`"data":[{"name":"GET /cart","spanKind":"server"},{"name":"GET /home","spanKind":"server"},{"name":"getHome","spanKind":"client"}]`}, nil},
		{"operations by kind", "/api/operations?service=frontend&spanKind=client", 200, []string{`"data":[{"name":"getHome","spanKind":"client"}],"total":1`}, nil},
		{"operations unspecified kind", "/api/operations?service=cart", 200, []string{`{"name":"load","spanKind":""}`}, nil},
		{"operations without service", "/api/operations", 400, []string{`"errors":[{"code":400,"msg":"parameter 'service' is required"}]`}, nil},
		{"operations bad kind", "/api/operations?service=cart&spanKind=sideways", 400, []string{`'spanKind'`}, nil},
		{"search by service", "/api/traces?service=frontend", 200, []string{`"traceID":"4bf92f3577b34da6a3ce929d0e0e4736"`, `"traceID":"0000123456789abc"`}, nil},
		{"search by service newest first", "/api/traces?service=frontend&limit=1", 200, []string{`"traceID":"0000123456789abc"`}, []string{`4bf92f35`}},
		{"search by operation", "/api/traces?service=frontend&operation=GET%20%2Fcart", 200, []string{`4bf92f35`}, []string{`"traceID":"0000123456789abc","spans"`}},
		{"search operation all", "/api/traces?service=db&operation=all", 200, []string{`4bf92f35`}, nil},
		{"search by JSON tags", `/api/traces?service=frontend&tags=%7B%22http.method%22%3A%22GET%22%2C%22http.status_code%22%3A200%7D`, 200, []string{`4bf92f35`}, []string{`"traceID":"0000123456789abc","spans"`}},
		{"search by logfmt tags", `/api/traces?service=frontend&tags=http.method%3DGET%20cached%3Dtrue`, 200, []string{`4bf92f35`}, nil},
		{"search by non-ASCII tag", `/api/traces?service=frontend&tags=gr%C3%B6%C3%9Fe%3Dgro%C3%9F`, 200, []string{`4bf92f35`}, nil},
		{"search by tag, one span", `/api/traces?service=frontend&tags=%7B%22db.statement%22%3A%22SELECT%20*%20FROM%20carts%22%7D`, 200, []string{`"data":[]`}, nil},
		{"search by tag param", `/api/traces?service=db&tag=db.statement:SELECT%20*%20FROM%20carts`, 200, []string{`4bf92f35`}, nil},
		{"search error=true", `/api/traces?service=caf%C3%A9-%C3%B1&tags=%7B%22error%22%3A%22true%22%7D`, 200, []string{`4bf92f35`}, nil},
		{"search error=true elsewhere", `/api/traces?service=frontend&tags=%7B%22error%22%3Atrue%7D`, 200, []string{`"data":[]`}, nil},
		{"search log event", `/api/traces?service=caf%C3%A9-%C3%B1&tags=event%3Dweft.join`, 200, []string{`4bf92f35`}, nil},
		{"search span.kind", `/api/traces?service=frontend&tags=span.kind%3Dclient`, 200, []string{`0000123456789abc`}, []string{`4bf92f35`}},
		{"search minDuration", "/api/traces?service=frontend&minDuration=4ms", 200, []string{`4bf92f35`}, []string{`"traceID":"0000123456789abc","spans"`}},
		{"search maxDuration", "/api/traces?service=frontend&maxDuration=2.5ms", 200, []string{`0000123456789abc`}, []string{`4bf92f35`}},
		{"search time range", "/api/traces?service=frontend&start=" + us(base+5_000_000) + "&end=" + us(base+20_000_000), 200, []string{`0000123456789abc`}, []string{`4bf92f35`}},
		{"search lookback too short", "/api/traces?service=frontend&lookback=30m", 200, []string{`"data":[]`}, nil},
		{"search lookback days", "/api/traces?service=frontend&lookback=2d", 200, []string{`4bf92f35`}, nil},
		{"search lookback custom", "/api/traces?service=frontend&lookback=custom", 200, []string{`4bf92f35`}, nil},
		{"search trace IDs", "/api/traces?traceID=4bf92f3577b34da6a3ce929d0e0e4736&traceID=123456789abc&traceID=ff", 200,
			[]string{`4bf92f35`, `"traceID":"0000123456789abc"`, `"errors":[{"msg":"trace not found","traceID":"00000000000000ff"}]`}, nil},
		{"search without service", "/api/traces", 400, []string{`parameter 'service' is required`}, nil},
		{"search bad minDuration", "/api/traces?service=x&minDuration=fast", 400, []string{`'minDuration'`}, nil},
		{"search bad maxDuration", "/api/traces?service=x&maxDuration=-1s", 400, []string{`'maxDuration'`}, nil},
		{"search max below min", "/api/traces?service=x&minDuration=2s&maxDuration=1s", 400, []string{`'maxDuration' should be greater than 'minDuration'`}, nil},
		{"search bad start", "/api/traces?service=x&start=yesterday", 400, []string{`'start'`}, nil},
		{"search start overflow", "/api/traces?service=x&start=99999999999999999", 400, []string{`'start'`, `out of range`}, nil},
		{"search bad end", "/api/traces?service=x&end=1.5", 400, []string{`'end'`}, nil},
		{"search bad lookback", "/api/traces?service=x&lookback=2w", 400, []string{`'lookback'`}, nil},
		{"search bad limit", "/api/traces?service=x&limit=many", 400, []string{`'limit'`}, nil},
		{"search bad tags JSON", "/api/traces?service=x&tags=%7Bnope", 400, []string{`malformed 'tags' parameter`}, nil},
		{"search bad tag", "/api/traces?service=x&tag=nocolon", 400, []string{`malformed 'tag' parameter`}, nil},
		{"search bad traceID", "/api/traces?traceID=xyz", 400, []string{`'traceID'`}, nil},
		{"trace 64-bit", "/api/traces/123456789abc", 200, []string{`"traceID":"0000123456789abc"`}, nil},
		{"trace 64-bit padded", "/api/traces/00000000000000000000123456789abc", 200, []string{`"traceID":"0000123456789abc"`}, nil},
		{"trace not found", "/api/traces/4bf92f3577b34da6a3ce929d0e0e4737", 404, []string{`{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}`}, nil},
		{"trace bad ID", "/api/traces/not-hex", 400, []string{`"code":400`, `'traceID'`}, nil},
		{"trace ID too long", "/api/traces/4bf92f3577b34da6a3ce929d0e0e47360", 400, []string{`'traceID'`}, nil},
		{"dependencies", "/api/dependencies?endTs=" + itoa(base/1e6+3_600_000) + "&lookback=7200000", 200,
			[]string{`"data":[{"parent":"café-ñ","child":"db","callCount":1},{"parent":"frontend","child":"café-ñ","callCount":1},{"parent":"frontend","child":"cart","callCount":1}]`}, nil},
		{"dependencies default window", "/api/dependencies", 200, []string{`"parent":"frontend","child":"cart"`}, nil},
		{"dependencies of service", "/api/dependencies?service=db", 200, []string{`"data":[{"parent":"café-ñ","child":"db","callCount":1}]`}, nil},
		{"dependencies before", "/api/dependencies?endTs=" + itoa(base/1e6-1), 200, []string{`"data":[]`}, nil},
		{"dependencies bad endTs", "/api/dependencies?endTs=now", 400, []string{`'endTs'`}, nil},
		{"dependencies bad lookback", "/api/dependencies?lookback=1h", 400, []string{`'lookback'`}, nil},
		{"unknown endpoint", "/api/nope", 404, []string{`"code":404`, `no such endpoint`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, srv, tt.path)
			if status != tt.status {
				t.Errorf("GET %s: status %d, want %d; body %s", tt.path, status, tt.status, body)
			}
			if !json.Valid(body) {
				t.Fatalf("GET %s: invalid JSON %s", tt.path, body)
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

func itoa(n int64) string { return strings.TrimSpace(string(mustJSON(n))) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestTraceGolden(t *testing.T) {
	srv := newServer(t)
	for _, g := range []struct{ path, file string }{
		{"/api/traces/4bf92f3577b34da6a3ce929d0e0e4736", "trace.json"},
		{"/api/traces/123456789abc", "trace_shared.json"},
	} {
		status, body := get(t, srv, g.path)
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
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
			t.Errorf("GET %s differs from %s (run go test -update to rewrite):\n%s", g.path, path, pretty.Bytes())
		}
	}
}

// TestTraceShape decodes the answer into Jaeger UI's view of a trace and checks what the UI relies on.
func TestTraceShape(t *testing.T) {
	srv := newServer(t)
	_, body := get(t, srv, "/api/traces/123456789abc")
	var resp struct {
		Data []Trace `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	tr := resp.Data[0]
	ids := map[string]bool{}
	for _, s := range tr.Spans {
		if ids[s.SpanID] {
			t.Errorf("span ID %s appears twice", s.SpanID)
		}
		ids[s.SpanID] = true
		if _, ok := tr.Processes[s.ProcessID]; !ok {
			t.Errorf("span %s has unknown process %q", s.SpanID, s.ProcessID)
		}
	}
	for _, s := range tr.Spans {
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" && !ids[r.SpanID] {
				t.Errorf("span %s refers to missing parent %s", s.SpanID, r.SpanID)
			}
		}
	}
	// The shared server span hangs under the client, and its child under it.
	byName := map[string]Span{}
	for _, s := range tr.Spans {
		if s.OperationName == "getHome" && tr.Processes[s.ProcessID].ServiceName == "cart" {
			byName["server"] = s
		}
		if s.OperationName == "load" {
			byName["load"] = s
		}
	}
	if srvSpan := byName["server"]; srvSpan.SpanID == sid(10).String() || srvSpan.References[0].SpanID != sid(10).String() {
		t.Errorf("shared server span = %+v", srvSpan)
	}
	if byName["load"].References[0].SpanID != byName["server"].SpanID {
		t.Errorf("child of the shared span refers to %s, want the server side %s", byName["load"].References[0].SpanID, byName["server"].SpanID)
	}
}

func TestAuthorize(t *testing.T) {
	h := NewHandler(memstore.New(), Options{Authorize: func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			return errors.New("missing or bad bearer token")
		}
		return nil
	}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/services", nil))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "bad bearer token") || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("without token: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/services", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"data":[]`) {
		t.Errorf("with token: %d %s", rec.Code, rec.Body)
	}
}

func TestLimits(t *testing.T) {
	s := memstore.New()
	res := &model.Resource{Service: "svc"}
	var spans []*model.Span
	for i := 1; i <= 30; i++ {
		spans = append(spans, &model.Span{TraceID: model.TraceID{15: byte(i)}, SpanID: sid(1), Start: base + int64(i), Resource: res})
	}
	s.Write(context.Background(), spans)
	h := NewHandler(s, Options{DefaultLimit: 5, MaxLimit: 10, Now: func() time.Time { return time.Unix(0, base).Add(time.Hour) }})
	for _, tt := range []struct {
		query string
		n     int
	}{{"", 5}, {"&limit=0", 5}, {"&limit=7", 7}, {"&limit=1000", 10}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/traces?service=svc"+tt.query, nil))
		var resp struct{ Data []Trace }
		json.Unmarshal(rec.Body.Bytes(), &resp)
		if len(resp.Data) != tt.n {
			t.Errorf("%q: %d traces, want %d", tt.query, len(resp.Data), tt.n)
		}
	}
}

func TestServiceNameWithSlash(t *testing.T) {
	s := memstore.New()
	s.Write(context.Background(), []*model.Span{{TraceID: model.TraceID{15: 1}, SpanID: sid(1), Name: "op", Resource: &model.Resource{Service: "a/b c"}}})
	rec := httptest.NewRecorder()
	NewHandler(s, Options{}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/services/a%2Fb%20c/operations", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"data":["op"]`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
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

// bigTrace makes a trace of n spans over 10 services, each with 10 attributes and one event.
func bigTrace(n int) []*model.Span {
	var res []*model.Resource
	for i := 0; i < 10; i++ {
		res = append(res, &model.Resource{Service: "svc-" + strconv.Itoa(i), Attrs: []model.Attr{{Key: "host.name", Value: model.String("h" + strconv.Itoa(i))}}})
	}
	tid := model.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	spans := make([]*model.Span, n)
	for i := range spans {
		s := &model.Span{TraceID: tid, SpanID: model.SpanID{0xb0, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}, Name: "op-" + strconv.Itoa(i%50),
			Kind: model.KindServer, Start: base + int64(i)*1000, Duration: 5000, Resource: res[i%10]}
		if i > 0 {
			s.ParentID = spans[(i-1)/2].SpanID
		}
		for k := 0; k < 10; k++ {
			s.Attrs = append(s.Attrs, model.Attr{Key: "attr." + strconv.Itoa(k), Value: model.String("value-" + strconv.Itoa(i%100))})
		}
		s.Events = []model.Event{{Time: s.Start + 10, Name: "ev"}}
		spans[i] = s
	}
	return spans
}

// FuzzSearchQuery sends arbitrary query strings to /api/traces: the answer is 200 or 400 in Jaeger's envelope.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"service=frontend&tags=%7B%22a%22%3A%22b%22%7D", "service=x&minDuration=1ms&maxDuration=1h",
		"service=x&start=0&end=1&lookback=2d", "traceID=ab&traceID=cd", "service=x&tag=a:b&limit=3"} {
		f.Add(s)
	}
	h := NewHandler(fixture(f), Options{Now: func() time.Time { return time.Unix(0, base).Add(time.Hour) }})
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/api/traces", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("?%s: %d %s", raw, rec.Code, rec.Body)
		}
	})
}
