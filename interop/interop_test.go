package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The plan is the trace every Node program sends (node/plan.mjs holds the same plan in JavaScript). Times are
// milliseconds after the root span's start; every timestamp is given to the client explicitly, so durations are
// exact and the tolerance only absorbs the clients' own rounding to microseconds.
var plan = []planSpan{
	{
		name: "commande café ☕", start: 0, end: 120, kind: "server",
		attrs: []attr{
			{"client.nom", "Zoë Müller"},
			{"commande.numéro", 42},
			{"commande.total", 7.25},
			{"commande.urgente", true},
			{"commande.articles", []string{"café ☕", "croissant 🥐"}},
			{"commande.quantités", []int{2, 1}},
		},
		events: []planEvent{{name: "commande reçue 📥", at: 1, attrs: []attr{{"canal", "comptoir"}}}},
	},
	{
		name: "préparer l'espresso", parent: "commande café ☕", start: 10, end: 50,
		attrs:  []attr{{"machine", "La Marzocco"}, {"pression.bar", 9.5}},
		events: []planEvent{{name: "grains moulus ⚙", at: 15, attrs: []attr{{"grammes", 18}, {"mouture", "fine"}}}},
	},
	{
		name: "chauffer le lait 🥛", parent: "préparer l'espresso", start: 20, end: 35,
		attrs: []attr{{"lait.température", 65}},
	},
	{
		name: "paiement refusé ✗", parent: "commande café ☕", start: 60, end: 100, kind: "client",
		err:    "carte refusée : solde insuffisant €",
		events: []planEvent{{name: "tentative n°1", at: 70, attrs: []attr{{"montant", 7.25}}}},
		link:   "préparer l'espresso",
	},
}

// tolerance is how far a start, a duration or an event's time may be from the plan's: the clients are given
// exact milliseconds, but dd-trace turns them into nanoseconds through floating point (1 µs off).
const tolerance = 10 // µs

type planSpan struct {
	name, parent string
	start, end   int64  // ms after the root's start
	kind         string // "server", "client" or "" (internal)
	attrs        []attr
	events       []planEvent
	err          string // the error message; "" for a span without an error
	link         string // the span this one links to (FOLLOWS_FROM), if any
}

type planEvent struct {
	name  string
	at    int64 // ms after the root's start
	attrs []attr
}

// attr is an attribute as the Node programs give it: string, int, float64, bool, []string or []int.
type attr struct {
	key   string
	value any
}

// tag is an attribute as Jaeger's JSON shows it: its type and its value as JSON text (a string unquoted).
// Zipkin's JSON shows the same text, untyped.
type tag struct {
	key, typ, text string
}

// typing says what a protocol makes of an attribute; false when the client cannot send it at all.
type typing func(attr) (tag, bool)

// otlpTyping: OTLP keeps every type; Jaeger's JSON has no arrays, so weft shows them as JSON-like text.
func otlpTyping(a attr) (tag, bool) {
	switch v := a.value.(type) {
	case string:
		return tag{a.key, "string", v}, true
	case int:
		return tag{a.key, "int64", strconv.Itoa(v)}, true
	case float64:
		return tag{a.key, "float64", strconv.FormatFloat(v, 'g', -1, 64)}, true
	case bool:
		return tag{a.key, "bool", strconv.FormatBool(v)}, true
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return tag{a.key, "string", "[" + strings.Join(q, ",") + "]"}, true
	case []int:
		q := make([]string, len(v))
		for i, n := range v {
			q[i] = strconv.Itoa(n)
		}
		return tag{a.key, "string", "[" + strings.Join(q, ",") + "]"}, true
	}
	panic(fmt.Sprintf("plan attribute %s has type %T", a.key, a.value))
}

// zipkinTyping: Zipkin tags are strings (zipkin-js sends each value's toString); zipkin.cjs sends no arrays.
func zipkinTyping(a attr) (tag, bool) {
	t, _ := otlpTyping(a)
	switch a.value.(type) {
	case []string, []int:
		return tag{}, false
	}
	return tag{a.key, "string", t.text}, true
}

// datadogTyping: numbers and booleans are Datadog metrics (float64, a boolean 1 or 0); dd-trace drops arrays.
func datadogTyping(a attr) (tag, bool) {
	switch v := a.value.(type) {
	case int, float64:
		t, _ := otlpTyping(a)
		return tag{a.key, "float64", t.text}, true
	case bool:
		if v {
			return tag{a.key, "float64", "1"}, true
		}
		return tag{a.key, "float64", "0"}, true
	case []string, []int:
		return tag{}, false
	}
	return otlpTyping(a)
}

// jaegerTyping: jaeger-client sends every number as a double; jaeger.cjs sends arrays as their JSON text.
func jaegerTyping(a attr) (tag, bool) {
	switch a.value.(type) {
	case int, float64:
		t, _ := otlpTyping(a)
		return tag{a.key, "float64", t.text}, true
	}
	return otlpTyping(a)
}

// noAttrs is for events of a protocol whose events carry no attributes (Zipkin annotations).
func noAttrs(attr) (tag, bool) { return tag{}, false }

// client is one Node program and what its protocol can carry.
type client struct {
	name     string
	args     []string // node's arguments
	attrs    typing   // span attributes
	events   typing   // event attributes
	links    bool     // whether the link survives (FOLLOWS_FROM)
	resource []tag    // resource (process) attributes the program sets, as Jaeger shows them
}

// The resource attributes each program sets: otel.mjs through the SDK's resource, datadog.cjs as the tracer's
// version, jaeger.cjs as tracer tags (which jaeger-client sends as process tags).
var (
	otelResource   = []tag{{"déploiement", "string", "café-nord"}, {"service.version", "string", "1.2.3"}}
	ddResource     = []tag{{"service.version", "string", "1.2.3"}}
	jaegerResource = []tag{{"déploiement", "string", "café-nord"}}
)

var clients = []client{
	{
		name: "opentelemetry-js/otlp-proto", args: []string{"otel.mjs", "proto"},
		attrs: otlpTyping, events: otlpTyping, links: true,
		resource: otelResource,
	},
	{
		name: "opentelemetry-js/otlp-json", args: []string{"otel.mjs", "json"},
		attrs: otlpTyping, events: otlpTyping, links: true,
		resource: otelResource,
	},
	{
		name: "opentelemetry-js/otlp-grpc", args: []string{"otel.mjs", "grpc"},
		attrs: otlpTyping, events: otlpTyping, links: true,
		resource: otelResource,
	},
	{
		name: "opentelemetry-js/otlp-proto-gzip", args: []string{"otel.mjs", "proto", "gzip"},
		attrs: otlpTyping, events: otlpTyping, links: true,
		resource: otelResource,
	},
	{
		// gzip is the one compression OpenTelemetry's exporters offer (OTEL_EXPORTER_OTLP_COMPRESSION=gzip); a gRPC
		// server only decompresses what a registered codec (google.golang.org/grpc/encoding/gzip) handles.
		name: "opentelemetry-js/otlp-grpc-gzip", args: []string{"otel.mjs", "grpc", "gzip"},
		attrs: otlpTyping, events: otlpTyping, links: true,
		resource: otelResource,
	},
	{
		name: "zipkin-js/v2", args: []string{"zipkin.cjs", "v2"},
		attrs: zipkinTyping, events: noAttrs,
	},
	{
		name: "zipkin-js/v1", args: []string{"zipkin.cjs", "v1"},
		attrs: zipkinTyping, events: noAttrs,
	},
	{
		name: "zipkin-js/v2-64bit", args: []string{"zipkin.cjs", "v2", "64"},
		attrs: zipkinTyping, events: noAttrs,
	},
	{
		// dd-trace sends span events natively typed, so their attributes keep OTLP's types.
		name: "dd-trace-js/v0.4", args: []string{"datadog.cjs", "0.4"},
		attrs: datadogTyping, events: otlpTyping, links: true,
		resource: ddResource,
	},
	{
		name: "dd-trace-js/v0.5", args: []string{"datadog.cjs", "0.5"},
		attrs: datadogTyping, events: otlpTyping, links: true,
		resource: ddResource,
	},
	{
		name: "dd-trace-js/v0.4-64bit", args: []string{"datadog.cjs", "0.4", "64"},
		attrs: datadogTyping, events: otlpTyping, links: true,
		resource: ddResource,
	},
	{
		name: "jaeger-client-node", args: []string{"jaeger.cjs"},
		attrs: jaegerTyping, events: jaegerTyping, links: true,
		resource: jaegerResource,
	},
	{
		name: "jaeger-client-node/64bit", args: []string{"jaeger.cjs", "64"},
		attrs: jaegerTyping, events: jaegerTyping, links: true,
		resource: jaegerResource,
	},
}

// TestClients sends the plan's trace with every client to one `weft serve` and reads each back through the
// Jaeger and Zipkin query APIs.
func TestClients(t *testing.T) {
	node, dir := nodePrograms(t)
	w := startWeft(t, buildWeft(t))
	query := "http://" + w.addrs["query"]
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			s := runNode(t, node, dir, w, c.args...)
			checkJaeger(t, c, s, jaegerTrace(t, query, s, len(plan)))
			checkJaegerSearch(t, query, s)
			checkZipkin(t, c, s, zipkinTrace(t, query, s, len(plan)))
			checkZipkinSearch(t, query, s)
		})
	}
	t.Run("mixed-fleet", func(t *testing.T) {
		checkMixedFleet(t, query, runNode(t, node, dir, w, "mixed.cjs"))
	})
}

// checkMixedFleet reads back node/mixed.cjs's trace: an OpenTelemetry JS root and children from zipkin-js,
// dd-trace and jaeger-client that took their parent from B3 values, a traceparent and an uber-trace-id header.
// Four receivers got the spans; both APIs must show them as one trace, each under its own service.
func checkMixedFleet(t *testing.T, query string, s sent) {
	const root = "commande mixte 🌍"
	want := []struct {
		name, service string
		start, end    int64 // ms after the root's start
	}{
		{root, "interop-mixed-otel", 0, 120},
		{"zipkin : moudre ⚙", "interop-mixed-zipkin", 10, 30},
		{"datadog : infuser ☕", "interop-mixed-datadog", 30, 60},
		{"jaeger : servir 🍽", "interop-mixed-jaeger", 60, 90},
	}
	tr := jaegerTrace(t, query, s, len(want))
	spans := map[string]jaegerSpan{}
	for _, sp := range tr.Spans {
		spans[sp.OperationName] = sp
	}
	if len(tr.Spans) != len(want) {
		t.Errorf("jaeger: %d spans, want %d: %v", len(tr.Spans), len(want), keys(spans))
	}
	rootID := spans[root].SpanID
	for _, w := range want {
		sp, ok := spans[w.name]
		if !ok {
			t.Errorf("jaeger: no span %q (have %v)", w.name, keys(spans))
			continue
		}
		where := fmt.Sprintf("jaeger: span %q", w.name)
		if svc := tr.Processes[sp.ProcessID].ServiceName; svc != w.service {
			t.Errorf("%s: service %q, want %q", where, svc, w.service)
		}
		var refs []jaegerRef
		if w.name != root {
			refs = []jaegerRef{{"CHILD_OF", s.TraceID, rootID}}
		}
		if !slices.Equal(sp.References, refs) {
			t.Errorf("%s: references %+v, want %+v", where, sp.References, refs)
		}
		checkTime(t, where+" start", sp.StartTime, s.BaseMicros+w.start*1000)
		checkTime(t, where+" duration", sp.Duration, (w.end-w.start)*1000)
	}

	zs := map[string]zipkinSpan{}
	for _, sp := range zipkinTrace(t, query, s, len(want)) {
		zs[sp.Name] = sp
	}
	for _, w := range want {
		sp, ok := zs[w.name]
		if !ok {
			t.Errorf("zipkin: no span %q (have %v)", w.name, keys(zs))
			continue
		}
		wantParent := ""
		if w.name != root {
			wantParent = zs[root].ID
		}
		if sp.ParentID != wantParent || sp.LocalEndpoint == nil || sp.LocalEndpoint.ServiceName != w.service || sp.TraceID != s.TraceID {
			t.Errorf("zipkin: span %q: traceId %s, parentId %q, localEndpoint %+v; want %s, %q, %q", w.name, sp.TraceID, sp.ParentID, sp.LocalEndpoint, s.TraceID, wantParent, w.service)
		}
	}

	// Each service's search finds the whole trace.
	for _, w := range want {
		u := query + "/api/traces?" + url.Values{"service": {w.service}, "lookback": {"1h"}}.Encode()
		var r jaegerResponse
		eventually(t, "GET "+u, func() (bool, string) {
			r = jaegerResponse{}
			code, err := getJSON(u, &r)
			return err == nil && code == http.StatusOK && len(r.Data) > 0, fmt.Sprintf("status %d, %v, %+v", code, err, r)
		})
		if len(r.Data) != 1 || r.Data[0].TraceID != s.TraceID || len(r.Data[0].Spans) != len(want) {
			t.Errorf("jaeger: search by service %q found %+v, want the one trace %s with %d spans", w.service, r.Data, s.TraceID, len(want))
		}
	}
}

// getJSON fetches u into v; it returns the status code, and an error only when the request itself failed or a
// 200 answer was not JSON of v's shape.
func getJSON(u string, v any) (int, error) {
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, nil
	}
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return res.StatusCode, fmt.Errorf("GET %s: %w\n%s", u, err, body)
	}
	return res.StatusCode, nil
}

// eventually retries get until it reports done, for up to 20 s: a trace is searchable once the pipeline has
// handed it to the store, which may be a moment after the client's request was acknowledged.
func eventually(t *testing.T, what string, get func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		done, state := get()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there within 20 s; last answer: %s", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Jaeger's JSON, read with json.Number so that a value's type and text are checked exactly.

type jaegerResponse struct {
	Data   []jaegerTraceJSON `json:"data"`
	Errors []any             `json:"errors"`
}

type jaegerTraceJSON struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []jaegerRef `json:"references"`
	StartTime     int64       `json:"startTime"`
	Duration      int64       `json:"duration"`
	Tags          []jaegerKV  `json:"tags"`
	Logs          []struct {
		Timestamp int64      `json:"timestamp"`
		Fields    []jaegerKV `json:"fields"`
	} `json:"logs"`
	ProcessID string `json:"processID"`
}

type jaegerRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerProcess struct {
	ServiceName string     `json:"serviceName"`
	Tags        []jaegerKV `json:"tags"`
}

type jaegerKV struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// text is the value as the plan's tags spell it: a string as is, a number or a boolean as its JSON text.
func (kv jaegerKV) text() string {
	if s, ok := kv.Value.(string); ok {
		return s
	}
	return fmt.Sprint(kv.Value)
}

func findKV(kvs []jaegerKV, key string) (jaegerKV, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv, true
		}
	}
	return jaegerKV{}, false
}

// checkTags reports each wanted tag that kvs lacks or holds with another type or value.
func checkTags(t *testing.T, where string, kvs []jaegerKV, want []tag) {
	t.Helper()
	for _, w := range want {
		kv, ok := findKV(kvs, w.key)
		switch {
		case !ok:
			t.Errorf("%s: no tag %q (have %v)", where, w.key, kvs)
		case kv.Type != w.typ || kv.text() != w.text:
			t.Errorf("%s: tag %q is %s %q, want %s %q", where, w.key, kv.Type, kv.text(), w.typ, w.text)
		}
	}
}

func typed(attrs []attr, ty typing) []tag {
	var out []tag
	for _, a := range attrs {
		if t, ok := ty(a); ok {
			out = append(out, t)
		}
	}
	return out
}

// jaegerTrace reads a trace through /api/traces/{id}, waiting until it has at least n spans.
func jaegerTrace(t *testing.T, query string, s sent, n int) jaegerTraceJSON {
	t.Helper()
	u := query + "/api/traces/" + s.TraceID
	var tr jaegerTraceJSON
	eventually(t, "GET "+u, func() (bool, string) {
		var r jaegerResponse
		code, err := getJSON(u, &r)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusOK || len(r.Data) != 1 || len(r.Data[0].Spans) < n {
			return false, fmt.Sprintf("status %d, %+v", code, r)
		}
		tr = r.Data[0]
		return true, ""
	})
	return tr
}

func checkJaeger(t *testing.T, c client, s sent, tr jaegerTraceJSON) {
	t.Helper()
	if tr.TraceID != s.TraceID {
		t.Errorf("jaeger: traceID %q, want %q", tr.TraceID, s.TraceID)
	}
	if len(tr.Spans) != len(plan) {
		t.Errorf("jaeger: %d spans, want %d", len(tr.Spans), len(plan))
	}
	byName := map[string]jaegerSpan{}
	for _, sp := range tr.Spans {
		if _, dup := byName[sp.OperationName]; dup {
			t.Errorf("jaeger: two spans named %q", sp.OperationName)
		}
		byName[sp.OperationName] = sp
		if sp.TraceID != s.TraceID {
			t.Errorf("jaeger: span %q has traceID %q, want %q", sp.OperationName, sp.TraceID, s.TraceID)
		}
		p, ok := tr.Processes[sp.ProcessID]
		if !ok {
			t.Errorf("jaeger: span %q names process %q, which the trace lacks", sp.OperationName, sp.ProcessID)
			continue
		}
		if p.ServiceName != s.Service {
			t.Errorf("jaeger: span %q has service %q, want %q", sp.OperationName, p.ServiceName, s.Service)
		}
		checkTags(t, fmt.Sprintf("jaeger: process of %q", sp.OperationName), p.Tags, c.resource)
	}
	for _, ps := range plan {
		sp, ok := byName[ps.name]
		if !ok {
			t.Errorf("jaeger: no span named %q (have %v)", ps.name, keys(byName))
			continue
		}
		where := fmt.Sprintf("jaeger: span %q", ps.name)

		var parent string
		var links []string
		for _, r := range sp.References {
			switch r.RefType {
			case "CHILD_OF":
				if parent != "" {
					t.Errorf("%s: more than one CHILD_OF reference: %+v", where, sp.References)
				}
				parent = r.SpanID
			case "FOLLOWS_FROM":
				links = append(links, r.SpanID)
			default:
				t.Errorf("%s: reference of type %q", where, r.RefType)
			}
		}
		if ps.parent == "" && parent != "" {
			t.Errorf("%s: CHILD_OF %s, want none (a root)", where, parent)
		}
		if ps.parent != "" && parent != byName[ps.parent].SpanID {
			t.Errorf("%s: CHILD_OF %q, want %q (span %q)", where, parent, byName[ps.parent].SpanID, ps.parent)
		}
		var wantLinks []string
		if c.links && ps.link != "" {
			wantLinks = []string{byName[ps.link].SpanID}
		}
		if !slices.Equal(links, wantLinks) {
			t.Errorf("%s: FOLLOWS_FROM %v, want %v", where, links, wantLinks)
		}

		checkTime(t, where+" start", sp.StartTime, s.BaseMicros+ps.start*1000)
		checkTime(t, where+" duration", sp.Duration, (ps.end-ps.start)*1000)
		checkTags(t, where, sp.Tags, typed(ps.attrs, c.attrs))
		if ps.kind != "" {
			checkTags(t, where, sp.Tags, []tag{{"span.kind", "string", ps.kind}})
		}
		if ps.err != "" {
			checkTags(t, where, sp.Tags, []tag{{"error", "bool", "true"}, {"otel.status_description", "string", ps.err}})
		} else if kv, ok := findKV(sp.Tags, "error"); ok {
			t.Errorf("%s: tag error=%v on a span without an error", where, kv.Value)
		}

		for _, pe := range ps.events {
			found := false
			for _, l := range sp.Logs {
				if ev, ok := findKV(l.Fields, "event"); !ok || ev.text() != pe.name {
					continue
				}
				found = true
				ew := fmt.Sprintf("%s: log %q", where, pe.name)
				checkTime(t, ew+" timestamp", l.Timestamp, s.BaseMicros+pe.at*1000)
				checkTags(t, ew, l.Fields, typed(pe.attrs, c.events))
			}
			if !found {
				t.Errorf("%s: no log with event=%q (have %+v)", where, pe.name, sp.Logs)
			}
		}
	}
}

// checkJaegerSearch finds the trace through /api/traces by its service alone, and with an operation, tags
// (non-ASCII values, the error) and durations that match it or do not; and finds the service and its operations
// through /api/services.
func checkJaegerSearch(t *testing.T, query string, s sent) {
	t.Helper()
	// The search index may follow the trace by ID by a moment; wait for the plain search first.
	u := query + "/api/traces?" + url.Values{"service": {s.Service}, "lookback": {"1h"}}.Encode()
	eventually(t, "GET "+u, func() (bool, string) {
		var r jaegerResponse
		code, err := getJSON(u, &r)
		return err == nil && code == http.StatusOK && len(r.Data) > 0, fmt.Sprintf("status %d, %v, %+v", code, err, r)
	})
	for _, q := range []struct {
		params url.Values
		hit    bool
	}{
		{url.Values{}, true},
		{url.Values{"operation": {"paiement refusé ✗"}}, true},
		{url.Values{"operation": {"paiement accepté ✓"}}, false},
		{url.Values{"tags": {`{"client.nom":"Zoë Müller"}`}}, true},
		{url.Values{"tags": {`{"client.nom":"Zoe Muller"}`}}, false},
		{url.Values{"tags": {`{"error":"true"}`}}, true},
		{url.Values{"minDuration": {"100ms"}}, true},
		{url.Values{"minDuration": {"150ms"}}, false},
	} {
		q.params.Set("service", s.Service)
		q.params.Set("limit", "20")
		q.params.Set("lookback", "1h")
		u = query + "/api/traces?" + q.params.Encode()
		var r jaegerResponse
		code, err := getJSON(u, &r)
		switch {
		case err != nil || code != http.StatusOK:
			t.Errorf("jaeger: GET %s: status %d, %v", u, code, err)
		case q.hit && (len(r.Data) != 1 || r.Data[0].TraceID != s.TraceID || len(r.Data[0].Spans) != len(plan)):
			t.Errorf("jaeger: search %v found %+v, want the one trace %s with %d spans", q.params, r.Data, s.TraceID, len(plan))
		case !q.hit && len(r.Data) != 0:
			t.Errorf("jaeger: search %v found %d traces, want none", q.params, len(r.Data))
		}
	}

	var services struct {
		Data []string `json:"data"`
	}
	if code, err := getJSON(query+"/api/services", &services); err != nil || code != http.StatusOK {
		t.Errorf("jaeger: GET /api/services: status %d, %v", code, err)
	} else if !slices.Contains(services.Data, s.Service) {
		t.Errorf("jaeger: /api/services is %v, without %q", services.Data, s.Service)
	}

	var ops struct {
		Data []string `json:"data"`
	}
	u = query + "/api/services/" + url.PathEscape(s.Service) + "/operations"
	if code, err := getJSON(u, &ops); err != nil || code != http.StatusOK {
		t.Errorf("jaeger: GET %s: status %d, %v", u, code, err)
	} else {
		for _, ps := range plan {
			if !slices.Contains(ops.Data, ps.name) {
				t.Errorf("jaeger: operations of %q are %q, without %q", s.Service, ops.Data, ps.name)
			}
		}
	}
}

// Zipkin's v2 JSON.

type zipkinSpan struct {
	TraceID       string `json:"traceId"`
	ParentID      string `json:"parentId"`
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	Name          string `json:"name"`
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

// zipkinTrace reads a trace through /api/v2/trace/{id}, waiting until it has at least n spans.
func zipkinTrace(t *testing.T, query string, s sent, n int) []zipkinSpan {
	t.Helper()
	u := query + "/api/v2/trace/" + s.TraceID
	var spans []zipkinSpan
	eventually(t, "GET "+u, func() (bool, string) {
		spans = nil
		code, err := getJSON(u, &spans)
		if err != nil {
			t.Fatal(err)
		}
		return code == http.StatusOK && len(spans) >= n, fmt.Sprintf("status %d, %+v", code, spans)
	})
	return spans
}

func checkZipkin(t *testing.T, c client, s sent, spans []zipkinSpan) {
	t.Helper()
	if len(spans) != len(plan) {
		t.Errorf("zipkin: %d spans, want %d", len(spans), len(plan))
	}
	byName := map[string]zipkinSpan{}
	for _, sp := range spans {
		if _, dup := byName[sp.Name]; dup {
			t.Errorf("zipkin: two spans named %q", sp.Name)
		}
		byName[sp.Name] = sp
		if sp.TraceID != s.TraceID {
			t.Errorf("zipkin: span %q has traceId %q, want %q", sp.Name, sp.TraceID, s.TraceID)
		}
		if sp.LocalEndpoint == nil || sp.LocalEndpoint.ServiceName != s.Service {
			t.Errorf("zipkin: span %q has localEndpoint %+v, want serviceName %q", sp.Name, sp.LocalEndpoint, s.Service)
		}
	}
	for _, ps := range plan {
		sp, ok := byName[ps.name]
		if !ok {
			t.Errorf("zipkin: no span named %q (have %v)", ps.name, keys(byName))
			continue
		}
		where := fmt.Sprintf("zipkin: span %q", ps.name)
		wantParent := ""
		if ps.parent != "" {
			wantParent = byName[ps.parent].ID
		}
		if sp.ParentID != wantParent {
			t.Errorf("%s: parentId %q, want %q (span %q)", where, sp.ParentID, wantParent, ps.parent)
		}
		if want := strings.ToUpper(ps.kind); sp.Kind != want {
			t.Errorf("%s: kind %q, want %q", where, sp.Kind, want)
		}
		checkTime(t, where+" timestamp", sp.Timestamp, s.BaseMicros+ps.start*1000)
		checkTime(t, where+" duration", sp.Duration, (ps.end-ps.start)*1000)

		// Zipkin tags are text: the span's attributes and its resource's, and "error" holding the message.
		for _, w := range append(typed(ps.attrs, c.attrs), c.resource...) {
			if got, ok := sp.Tags[w.key]; !ok || got != w.text {
				t.Errorf("%s: tag %q is %q (present: %v), want %q", where, w.key, got, ok, w.text)
			}
		}
		if got, ok := sp.Tags["error"]; ps.err != "" && got != ps.err {
			t.Errorf("%s: tag error is %q (present: %v), want %q", where, got, ok, ps.err)
		} else if ps.err == "" && ok {
			t.Errorf("%s: tag error=%q on a span without an error", where, got)
		}

		for _, pe := range ps.events {
			found := false
			for _, a := range sp.Annotations {
				if a.Value == pe.name {
					found = true
					checkTime(t, fmt.Sprintf("%s: annotation %q timestamp", where, pe.name), a.Timestamp, s.BaseMicros+pe.at*1000)
				}
			}
			if !found {
				t.Errorf("%s: no annotation %q (have %+v)", where, pe.name, sp.Annotations)
			}
		}
	}
}

// checkZipkinSearch finds the trace through /api/v2/traces by its service alone, and with a span name and
// annotation queries (non-ASCII values, the error tag) that match it or do not.
func checkZipkinSearch(t *testing.T, query string, s sent) {
	t.Helper()
	u := query + "/api/v2/traces?" + url.Values{"serviceName": {s.Service}}.Encode()
	eventually(t, "GET "+u, func() (bool, string) {
		var traces [][]zipkinSpan
		code, err := getJSON(u, &traces)
		return err == nil && code == http.StatusOK && len(traces) > 0, fmt.Sprintf("status %d, %v, %+v", code, err, traces)
	})
	for _, q := range []struct {
		params url.Values
		hit    bool
	}{
		{url.Values{}, true},
		{url.Values{"spanName": {"chauffer le lait 🥛"}}, true},
		{url.Values{"spanName": {"chauffer le thé 🍵"}}, false},
		{url.Values{"annotationQuery": {"client.nom=Zoë Müller"}}, true},
		{url.Values{"annotationQuery": {"client.nom=Zoe Muller"}}, false},
		{url.Values{"annotationQuery": {"error"}}, true},
		{url.Values{"minDuration": {"100000"}}, true},
		{url.Values{"minDuration": {"150000"}}, false},
	} {
		q.params.Set("serviceName", s.Service)
		q.params.Set("limit", "20")
		u = query + "/api/v2/traces?" + q.params.Encode()
		var traces [][]zipkinSpan
		code, err := getJSON(u, &traces)
		switch {
		case err != nil || code != http.StatusOK:
			t.Errorf("zipkin: GET %s: status %d, %v", u, code, err)
		case q.hit && (len(traces) != 1 || len(traces[0]) != len(plan) || traces[0][0].TraceID != s.TraceID):
			t.Errorf("zipkin: search %v found %+v, want the one trace %s with %d spans", q.params, traces, s.TraceID, len(plan))
		case !q.hit && len(traces) != 0:
			t.Errorf("zipkin: search %v found %d traces, want none", q.params, len(traces))
		}
	}
}

func checkTime(t *testing.T, what string, got, want int64) {
	t.Helper()
	if d := got - want; d < -tolerance || d > tolerance {
		t.Errorf("%s: %d µs, want %d ± %d", what, got, want, tolerance)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
