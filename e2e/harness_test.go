package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/server"
)

// weft is a whole weft server running in the test's process, every listener on a free loopback port.
type weft struct {
	s *server.Server
}

func startWeft(t *testing.T) *weft {
	t.Helper()
	cfg, err := server.ParseConfig("serve", []string{"--data-dir", t.TempDir(), "--otlp-grpc-addr", "0",
		"--otlp-http-addr", "0", "--zipkin-addr", "0", "--datadog-addr", "0", "--jaeger-addr", "0",
		"--query-addr", "0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := server.Start(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("closing weft: %v", err)
		}
	})
	return &weft{s: s}
}

// testWriter sends the server's warnings to the test log, so a failure shows what weft said.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// addr is a listener's host:port (otlp-grpc, otlp-http, zipkin, datadog, jaeger, query).
func (w *weft) addr(t *testing.T, name string) string {
	t.Helper()
	a := w.s.Addr(name)
	if a == "" {
		t.Fatalf("weft has no %s listener", name)
	}
	return a
}

// get fetches a query API path and decodes its JSON into v; it answers the status code.
func (w *weft) get(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get("http://" + w.addr(t, "query") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// eventually polls check until it answers "" or the deadline passes, then fails with its last answer. Spans are
// durable once acknowledged but reach the query path a little later.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inCI is true under CI=true: a missing dependency there fails the test instead of skipping it.
var inCI = os.Getenv("CI") == "true"

// need stops the test when something it depends on is missing: a failure in CI, a skip elsewhere.
func need(t *testing.T, err error, what string) {
	t.Helper()
	if err == nil {
		return
	}
	if inCI {
		t.Fatalf("%s: %v (CI=true: a missing dependency is a failure)", what, err)
	}
	t.Skipf("%s: %v", what, err)
}

// The Jaeger query API's shapes (only what the tests read).
type jaegerEnvelope[T any] struct {
	Data   T `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64       `json:"startTime"`
	Duration  int64       `json:"duration"`
	Tags      []jaegerKV  `json:"tags"`
	Logs      []jaegerLog `json:"logs"`
	ProcessID string      `json:"processID"`
}

type jaegerKV struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jaegerLog struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []jaegerKV `json:"fields"`
}

type jaegerProcess struct {
	ServiceName string     `json:"serviceName"`
	Tags        []jaegerKV `json:"tags"`
}

func jaegerTag(kvs []jaegerKV, key string) (jaegerKV, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv, true
		}
	}
	return jaegerKV{}, false
}

// The Zipkin v2 API's span (only what the tests read).
type zipkinSpan struct {
	TraceID       string `json:"traceId"`
	ID            string `json:"id"`
	ParentID      string `json:"parentId"`
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Timestamp     int64  `json:"timestamp"`
	Duration      int64  `json:"duration"`
	LocalEndpoint *struct {
		ServiceName string `json:"serviceName"`
	} `json:"localEndpoint"`
	Annotations []struct {
		Timestamp int64  `json:"timestamp"`
		Value     string `json:"value"`
	} `json:"annotations"`
	Tags map[string]string `json:"tags"`
}

// wantTrace is the trace every client sends, as each client can express it: a root span with two children, one of
// which fails, with known names, durations, typed attributes and events.
type wantTrace struct {
	traceID string // 32 hex digits
	service string
	spans   []wantSpan
}

type wantSpan struct {
	name     string
	service  string // the span's own service, when not the trace's
	parent   string // the parent span's name; "" for the root
	kind     string // Jaeger's span.kind tag: server, client, internal, "" when the client cannot say
	duration time.Duration
	// jaeger holds the span's tags as the Jaeger API must show them (type and JSON value).
	jaeger []jaegerKV
	// zipkin holds tags as the Zipkin API must show them (text).
	zipkin map[string]string
	errMsg string   // the error message, "" when the span did not fail
	events []string // the span's event names, in order
}

func (ws wantSpan) serviceOr(service string) string {
	if ws.service != "" {
		return ws.service
	}
	return service
}

// durationTolerance covers the microsecond truncation of the Jaeger and Zipkin APIs and clients that write
// microseconds.
const durationTolerance = 2 * time.Millisecond

// checkJaeger reads the trace back through the Jaeger-compatible API: by ID, by search (service, operation, tags),
// and in the lists of services and operations.
func checkJaeger(t *testing.T, w *weft, want wantTrace) {
	t.Helper()
	var tr jaegerTrace
	eventually(t, "jaeger trace by ID", func() string {
		var env jaegerEnvelope[[]jaegerTrace]
		if code := w.get(t, "/api/traces/"+want.traceID, &env); code != http.StatusOK {
			return fmt.Sprintf("status %d", code)
		}
		if len(env.Data) != 1 || len(env.Data[0].Spans) < len(want.spans) {
			return fmt.Sprintf("%d traces, want 1 with %d spans: %+v", len(env.Data), len(want.spans), env.Data)
		}
		tr = env.Data[0]
		return ""
	})
	if tr.TraceID != want.traceID {
		t.Errorf("jaeger traceID %q, want %q", tr.TraceID, want.traceID)
	}
	byName := map[string]jaegerSpan{}
	for _, s := range tr.Spans {
		if _, dup := byName[s.OperationName]; dup {
			t.Errorf("jaeger: two spans named %q", s.OperationName)
		}
		byName[s.OperationName] = s
	}
	if len(tr.Spans) != len(want.spans) {
		t.Errorf("jaeger: %d spans, want %d", len(tr.Spans), len(want.spans))
	}
	for _, ws := range want.spans {
		s, ok := byName[ws.name]
		if !ok {
			t.Errorf("jaeger: no span named %q (have %v)", ws.name, keys(byName))
			continue
		}
		if p := tr.Processes[s.ProcessID]; p.ServiceName != ws.serviceOr(want.service) {
			t.Errorf("jaeger %q: service %q, want %q", ws.name, p.ServiceName, ws.serviceOr(want.service))
		}
		var parent string
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent = r.SpanID
			}
		}
		if ws.parent == "" {
			if parent != "" {
				t.Errorf("jaeger %q: parent %s, want none", ws.name, parent)
			}
		} else if p, ok := byName[ws.parent]; !ok || parent != p.SpanID {
			t.Errorf("jaeger %q: parent %q, want %q's ID %q", ws.name, parent, ws.parent, p.SpanID)
		}
		if d := time.Duration(s.Duration) * time.Microsecond; d < ws.duration-durationTolerance || d > ws.duration+durationTolerance {
			t.Errorf("jaeger %q: duration %v, want %v", ws.name, d, ws.duration)
		}
		if ws.kind != "" {
			if kv, _ := jaegerTag(s.Tags, "span.kind"); kv.Value != ws.kind {
				t.Errorf("jaeger %q: span.kind %v, want %s", ws.name, kv.Value, ws.kind)
			}
		}
		for _, wkv := range ws.jaeger {
			kv, ok := jaegerTag(s.Tags, wkv.Key)
			if !ok || kv.Type != wkv.Type || kv.Value != wkv.Value {
				t.Errorf("jaeger %q: tag %s = %s %#v, want %s %#v", ws.name, wkv.Key, kv.Type, kv.Value, wkv.Type, wkv.Value)
			}
		}
		errTag, _ := jaegerTag(s.Tags, "error")
		desc, _ := jaegerTag(s.Tags, "otel.status_description")
		if ws.errMsg != "" {
			if errTag.Value != true || desc.Value != ws.errMsg {
				t.Errorf("jaeger %q: error %v, description %v, want true and %q", ws.name, errTag.Value, desc.Value, ws.errMsg)
			}
		} else if errTag.Value == true {
			t.Errorf("jaeger %q: error tag on a span that did not fail", ws.name)
		}
		var events []string
		for _, l := range s.Logs {
			if kv, ok := jaegerTag(l.Fields, "event"); ok {
				events = append(events, fmt.Sprint(kv.Value))
			}
		}
		if !slices.Equal(events, ws.events) {
			t.Errorf("jaeger %q: log events %q, want %q", ws.name, events, ws.events)
		}
	}

	// Search: service, the non-ASCII root operation and a tag, over the default lookback.
	root := want.spans[0]
	q := url.Values{"service": {want.service}, "operation": {root.name}, "limit": {"20"}}
	if len(root.jaeger) > 0 {
		kv := root.jaeger[0]
		q.Set("tags", fmt.Sprintf(`{%q:%q}`, kv.Key, fmt.Sprint(kv.Value)))
	}
	var found jaegerEnvelope[[]jaegerTrace]
	if code := w.get(t, "/api/traces?"+q.Encode(), &found); code != http.StatusOK {
		t.Errorf("jaeger search %s: status %d", q.Encode(), code)
	}
	if len(found.Data) != 1 || found.Data[0].TraceID != want.traceID {
		t.Errorf("jaeger search %s: %d traces, want only %s", q.Encode(), len(found.Data), want.traceID)
	}
	q.Set("tags", `{"absent.tag":"nothing"}`)
	found.Data = nil
	w.get(t, "/api/traces?"+q.Encode(), &found)
	if len(found.Data) != 0 {
		t.Errorf("jaeger search %s: %d traces, want none", q.Encode(), len(found.Data))
	}

	var services jaegerEnvelope[[]string]
	w.get(t, "/api/services", &services)
	if !slices.Contains(services.Data, want.service) {
		t.Errorf("jaeger services %q, want %q among them", services.Data, want.service)
	}
	var ops jaegerEnvelope[[]string]
	w.get(t, "/api/services/"+url.PathEscape(want.service)+"/operations", &ops)
	for _, ws := range want.spans {
		if ws.serviceOr(want.service) == want.service && !slices.Contains(ops.Data, ws.name) {
			t.Errorf("jaeger operations of %q: %q, want %q among them", want.service, ops.Data, ws.name)
		}
	}
}

// checkZipkin reads the trace back through the Zipkin v2 API: by ID, by service, and in the list of services.
func checkZipkin(t *testing.T, w *weft, want wantTrace) {
	t.Helper()
	var spans []zipkinSpan
	eventually(t, "zipkin trace by ID", func() string {
		spans = nil
		if code := w.get(t, "/api/v2/trace/"+want.traceID, &spans); code != http.StatusOK {
			return fmt.Sprintf("status %d", code)
		}
		if len(spans) < len(want.spans) {
			return fmt.Sprintf("%d spans, want %d", len(spans), len(want.spans))
		}
		return ""
	})
	byName := map[string]zipkinSpan{}
	for _, s := range spans {
		byName[s.Name] = s
		if s.TraceID != want.traceID {
			t.Errorf("zipkin %q: traceId %q, want %q", s.Name, s.TraceID, want.traceID)
		}
	}
	for _, ws := range want.spans {
		s, ok := byName[ws.name]
		if !ok {
			t.Errorf("zipkin: no span named %q (have %v)", ws.name, keys(byName))
			continue
		}
		if s.LocalEndpoint == nil || s.LocalEndpoint.ServiceName != ws.serviceOr(want.service) {
			t.Errorf("zipkin %q: localEndpoint %+v, want service %q", ws.name, s.LocalEndpoint, ws.serviceOr(want.service))
		}
		if ws.parent == "" {
			if s.ParentID != "" {
				t.Errorf("zipkin %q: parentId %s, want none", ws.name, s.ParentID)
			}
		} else if s.ParentID == "" || s.ParentID != byName[ws.parent].ID {
			t.Errorf("zipkin %q: parentId %q, want %q's ID %q", ws.name, s.ParentID, ws.parent, byName[ws.parent].ID)
		}
		if wk := strings.ToUpper(ws.kind); (wk == "SERVER" || wk == "CLIENT") && s.Kind != wk {
			t.Errorf("zipkin %q: kind %q, want %q", ws.name, s.Kind, wk)
		}
		if d := time.Duration(s.Duration) * time.Microsecond; d < ws.duration-durationTolerance || d > ws.duration+durationTolerance {
			t.Errorf("zipkin %q: duration %v, want %v", ws.name, d, ws.duration)
		}
		for k, v := range ws.zipkin {
			if s.Tags[k] != v {
				t.Errorf("zipkin %q: tag %s = %q, want %q", ws.name, k, s.Tags[k], v)
			}
		}
		if ws.errMsg != "" && s.Tags["error"] != ws.errMsg {
			t.Errorf("zipkin %q: error tag %q, want %q", ws.name, s.Tags["error"], ws.errMsg)
		}
		if ws.errMsg == "" {
			if e, ok := s.Tags["error"]; ok {
				t.Errorf("zipkin %q: error tag %q on a span that did not fail", ws.name, e)
			}
		}
		var events []string
		for _, a := range s.Annotations {
			events = append(events, a.Value)
		}
		if !slices.Equal(events, ws.events) {
			t.Errorf("zipkin %q: annotations %q, want %q", ws.name, events, ws.events)
		}
	}

	var traces [][]zipkinSpan
	q := url.Values{"serviceName": {want.service}, "limit": {"10"}}
	if code := w.get(t, "/api/v2/traces?"+q.Encode(), &traces); code != http.StatusOK {
		t.Errorf("zipkin search %s: status %d", q.Encode(), code)
	}
	if len(traces) != 1 || len(traces[0]) != len(want.spans) || len(traces[0]) > 0 && traces[0][0].TraceID != want.traceID {
		t.Errorf("zipkin search %s: %d traces, want only %s with %d spans", q.Encode(), len(traces), want.traceID, len(want.spans))
	}
	var services []string
	w.get(t, "/api/v2/services", &services)
	if !slices.Contains(services, want.service) {
		t.Errorf("zipkin services %q, want %q among them", services, want.service)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
