package zipkin

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
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var base = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).UnixNano()

var (
	traceA = model.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	traceB = model.TraceID{10: 0x12, 11: 0x34, 12: 0x56, 13: 0x78, 14: 0x9a, 15: 0xbc}
)

func sid(b byte) model.SpanID { return model.SpanID{0xa0, 0, 0, 0, 0, 0, 0, b} }

// fixture: trace A (128-bit) frontend → café-ñ (error) → db client calling "postgres"; trace B (64-bit) with a
// shared client/server span between frontend and cart.
func fixture(t testing.TB) *memstore.Store {
	frontend := &model.Resource{Service: "frontend", Attrs: []model.Attr{{Key: "host.name", Value: model.String("web-1")}}}
	cafe := &model.Resource{Service: "café-ñ"}
	db := &model.Resource{Service: "db"}
	cart := &model.Resource{Service: "cart"}
	s := memstore.New()
	spans := []*model.Span{
		{TraceID: traceA, SpanID: sid(1), Name: "get /cart", Kind: model.KindServer, Start: base, Duration: 5_000_000, Resource: frontend,
			Attrs:     []model.Attr{{Key: "http.method", Value: model.String("GET")}, {Key: "http.status_code", Value: model.Int(200)}, {Key: "größe", Value: model.String("groß")}},
			Causality: model.Causality{Unit: 0x1111, StartSeq: 1, EndSeq: 4, StartCause: model.EventRef{TraceID: traceB, Unit: 0x99, Seq: 2}}},
		{TraceID: traceA, SpanID: sid(2), ParentID: sid(1), Name: "getcart", Kind: model.KindServer, Start: base + 1_000_000, Duration: 3_000_000,
			Resource: cafe, StatusCode: model.StatusError, StatusMessage: "no cart",
			Events: []model.Event{{Time: base + 2_000_000, Name: "retried"}}},
		{TraceID: traceA, SpanID: sid(3), ParentID: sid(2), Name: "select", Kind: model.KindClient, Start: base + 1_500_000, Duration: 500,
			Resource: db, Attrs: []model.Attr{{Key: "peer.service", Value: model.String("postgres")}, {Key: "network.peer.address", Value: model.String("10.0.0.7")},
				{Key: "network.peer.port", Value: model.Int(5432)}}},
		{TraceID: traceB, SpanID: sid(9), Name: "get /home", Kind: model.KindServer, Start: base + 10_000_000, Duration: 2_000_000, Resource: frontend},
		{TraceID: traceB, SpanID: sid(10), ParentID: sid(9), Name: "gethome", Kind: model.KindClient, Start: base + 10_100_000, Duration: 1_000_000, Resource: frontend,
			Attrs: []model.Attr{{Key: "network.peer.address", Value: model.String("::1")}}},
		{TraceID: traceB, SpanID: sid(10), ParentID: sid(9), Name: "gethome", Kind: model.KindServer, Start: base + 10_200_000, Duration: 800_000,
			Resource: cart, Flags: model.FlagShared},
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

func get(t testing.TB, srv *httptest.Server, path string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

func ms(ns int64) string { return strconv.FormatInt(ns/1e6, 10) }

func TestEndpoints(t *testing.T) {
	srv := newServer(t)
	const a, b = `"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"`, `"traceId":"0000123456789abc"`
	tests := []struct {
		name   string
		path   string
		status int
		want   []string
		not    []string
	}{
		{"services", "/api/v2/services", 200, []string{`["café-ñ","cart","db","frontend"]`}, nil},
		{"spans", "/api/v2/spans?serviceName=frontend", 200, []string{`["get /cart","get /home","gethome"]`}, nil},
		{"spans non-ASCII", "/api/v2/spans?serviceName=caf%C3%A9-%C3%B1", 200, []string{`["getcart"]`}, nil},
		{"spans unknown", "/api/v2/spans?serviceName=nope", 200, []string{`[]`}, nil},
		{"spans without service", "/api/v2/spans", 400, []string{`serviceName is required`}, nil},
		{"remote services", "/api/v2/remoteServices?serviceName=db", 200, []string{`["postgres"]`}, nil},
		{"remote services from dependencies", "/api/v2/remoteServices?serviceName=frontend", 200, []string{`["café-ñ","cart"]`}, nil},
		{"remote services without service", "/api/v2/remoteServices", 400, []string{`serviceName is required`}, nil},
		{"traces all", "/api/v2/traces", 200, []string{`[[{` + b, a}, nil},
		{"traces limit", "/api/v2/traces?limit=1", 200, []string{b}, []string{a}},
		{"traces by service", "/api/v2/traces?serviceName=db", 200, []string{a}, []string{b}},
		{"traces by span name", "/api/v2/traces?serviceName=frontend&spanName=get%20%2Fhome", 200, []string{b}, []string{a}},
		{"traces span name all", "/api/v2/traces?serviceName=db&spanName=all", 200, []string{a}, nil},
		{"traces remote service", "/api/v2/traces?remoteServiceName=postgres", 200, []string{a}, []string{b}},
		{"annotationQuery tag", "/api/v2/traces?annotationQuery=http.method%3DGET", 200, []string{a}, []string{b}},
		{"annotationQuery error", "/api/v2/traces?annotationQuery=error", 200, []string{a}, []string{b}},
		{"annotationQuery annotation", "/api/v2/traces?annotationQuery=retried", 200, []string{a}, []string{b}},
		{"annotationQuery and", "/api/v2/traces?annotationQuery=error%20and%20http.method%3DGET", 200, []string{`[]`}, []string{a}},
		{"annotationQuery non-ASCII", "/api/v2/traces?annotationQuery=gr%C3%B6%C3%9Fe%3Dgro%C3%9F", 200, []string{a}, nil},
		{"minDuration", "/api/v2/traces?minDuration=4000", 200, []string{a}, []string{b}},
		{"maxDuration", "/api/v2/traces?serviceName=frontend&maxDuration=2000", 200, []string{b}, []string{a}},
		{"endTs and lookback", "/api/v2/traces?endTs=" + ms(base+5_000_000) + "&lookback=1000", 200, []string{a}, []string{b}},
		{"lookback too short", "/api/v2/traces?lookback=1000", 200, []string{`[]`}, nil},
		{"bad minDuration", "/api/v2/traces?minDuration=1ms", 400, []string{`minDuration`}, nil},
		{"max below min", "/api/v2/traces?minDuration=10&maxDuration=5", 400, []string{`maxDuration`}, nil},
		{"bad endTs", "/api/v2/traces?endTs=-5", 400, []string{`endTs`}, nil},
		{"endTs overflow", "/api/v2/traces?endTs=9223372036854775807", 400, []string{`endTs`, `out of range`}, nil},
		{"bad lookback", "/api/v2/traces?lookback=1d", 400, []string{`lookback`}, nil},
		{"bad limit", "/api/v2/traces?limit=x", 400, []string{`limit`}, nil},
		{"bad annotationQuery", "/api/v2/traces?annotationQuery=%3Dx", 400, []string{`annotationQuery`}, nil},
		{"trace 64-bit", "/api/v2/trace/123456789abc", 200, []string{b, `"shared":true`}, nil},
		{"trace not found", "/api/v2/trace/4bf92f3577b34da6a3ce929d0e0e4737", 404, []string{`4bf92f3577b34da6a3ce929d0e0e4737 not found`}, nil},
		{"trace bad ID", "/api/v2/trace/zz", 400, []string{`"zz" is not a trace ID`}, nil},
		{"traceMany", "/api/v2/traceMany?traceIds=123456789abc,4bf92f3577b34da6a3ce929d0e0e4736,ff", 200, []string{`[[{` + b, a}, nil},
		{"traceMany empty", "/api/v2/traceMany", 400, []string{`traceIds`}, nil},
		{"traceMany bad", "/api/v2/traceMany?traceIds=ab,x", 400, []string{`traceIds`}, nil},
		{"dependencies", "/api/v2/dependencies?endTs=" + ms(base+3_600_000_000) + "&lookback=7200000", 200,
			[]string{`[{"parent":"café-ñ","child":"db","callCount":1},{"parent":"frontend","child":"café-ñ","callCount":1,"errorCount":1},{"parent":"frontend","child":"cart","callCount":1}]`}, nil},
		{"dependencies default", "/api/v2/dependencies", 200, []string{`"parent":"frontend"`}, nil},
		{"dependencies before", "/api/v2/dependencies?endTs=" + ms(base-1e6), 200, []string{`[]`}, nil},
		{"dependencies bad endTs", "/api/v2/dependencies?endTs=now", 400, []string{`endTs`}, nil},
		{"autocomplete keys", "/api/v2/autocompleteKeys", 200, []string{`"größe"`, `"http.method"`}, nil},
		{"autocomplete values", "/api/v2/autocompleteValues?key=http.method", 200, []string{`["GET"]`}, nil},
		{"autocomplete values without key", "/api/v2/autocompleteValues", 400, []string{`key is required`}, nil},
		{"unknown", "/api/v2/nope", 404, []string{`no such endpoint`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ct, body := get(t, srv, tt.path)
			if status != tt.status {
				t.Errorf("GET %s: status %d, want %d; body %s", tt.path, status, tt.status, body)
			}
			if status == 200 && (ct != "application/json" || !json.Valid(body)) {
				t.Errorf("GET %s: %s body %s", tt.path, ct, body)
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

func TestTraceGolden(t *testing.T) {
	srv := newServer(t)
	for _, g := range []struct{ path, file string }{
		{"/api/v2/trace/4bf92f3577b34da6a3ce929d0e0e4736", "trace.json"},
		{"/api/v2/trace/0000123456789abc", "trace_shared.json"},
	} {
		status, _, body := get(t, srv, g.path)
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
			t.Errorf("GET %s differs from %s (go test -update rewrites it):\n%s", g.path, path, pretty.Bytes())
		}
	}
}

func TestAuthorize(t *testing.T) {
	h := NewHandler(memstore.New(), Options{Authorize: func(r *http.Request) error { return errors.New("no token") }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v2/services", nil))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "no token") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

func TestParseAnnotationQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"error", `error OR event = "error" OR status = error`},
		{"retried", `retried OR event = "retried"`},
		{"http.method=GET", `http.method = "GET"`},
		{"error and http.method=GET", `(error OR event = "error" OR status = error) AND http.method = "GET"`},
		{"error=boom", `error = "boom"`},
		{"http.uri=/a=b and  retried ", `http.uri = "/a=b" AND (retried OR event = "retried")`},
		{"name=x", `.name = "x"`},
		{"a b=c d", `."a b" = "c d"`},
		{" and ", ""},
	}
	for _, tt := range tests {
		e, err := ParseAnnotationQuery(tt.in)
		if err != nil {
			t.Errorf("ParseAnnotationQuery(%q): %v", tt.in, err)
			continue
		}
		got := ""
		if e != nil {
			got = e.String()
		}
		if got != tt.want {
			t.Errorf("ParseAnnotationQuery(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"=x", "a and =b"} {
		if _, err := ParseAnnotationQuery(bad); err == nil {
			t.Errorf("ParseAnnotationQuery(%q) accepted", bad)
		}
	}
}

func FuzzParseAnnotationQuery(f *testing.F) {
	for _, s := range []string{"error and http.method=GET", "a=b=c", "=", " and and ", "\xff=\x80", "größe=groß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseAnnotationQuery(s)
		if err != nil || e == nil {
			return
		}
		back, err := search.Parse(e.String())
		if err != nil || !search.Equal(e, back) {
			t.Fatalf("ParseAnnotationQuery(%q) = %q, which does not parse back: %v", s, e.String(), err)
		}
	})
}

// FuzzSearchQuery sends arbitrary query strings to /api/v2/traces: the answer is 200 (JSON) or 400.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"serviceName=frontend&annotationQuery=error%20and%20a%3Db", "minDuration=10&maxDuration=100",
		"endTs=1&lookback=1", "limit=3&spanName=all", "remoteServiceName=postgres"} {
		f.Add(s)
	}
	h := NewHandler(fixture(f), Options{Now: func() time.Time { return time.Unix(0, base).Add(time.Hour) }})
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/api/v2/traces", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 200 && !json.Valid(rec.Body.Bytes()) || rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("?%s: %d %s", raw, rec.Code, rec.Body)
		}
	})
}
