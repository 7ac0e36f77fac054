// Package jaeger serves Jaeger's query-service HTTP API (the JSON API behind Jaeger UI and Grafana's Jaeger data
// source) over a store.Reader: services, operations, trace search, traces by ID and the dependency graph, with
// Jaeger's response envelope and JSON shapes. It sits in the query layer: it reads the store and imports only
// model, search and store.
//
// The handler serves the paths under /api/ that Jaeger does (/api/services, /api/traces, ...); a server that also
// serves the Zipkin API (/api/v2/) and weft's own (/api/weft/) routes those prefixes first.
package jaeger

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
)

// Options configure the handler. The zero value works.
type Options struct {
	Logger          *slog.Logger  // nil: slog.Default()
	DefaultLimit    int           // traces per search when the request names no limit; 0: 20
	MaxLimit        int           // the most traces one search may ask for; 0: 1500
	DefaultLookback time.Duration // how far back a search without start or lookback looks; 0: 48h, as Jaeger
	// Authorize, if set, is called before every request; an error answers 401 with its message.
	Authorize func(r *http.Request) error
	// Now, if set, replaces time.Now (tests).
	Now func() time.Time
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = 20
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = 1500
	}
	if o.DefaultLimit > o.MaxLimit {
		o.DefaultLimit = o.MaxLimit
	}
	if o.DefaultLookback <= 0 {
		o.DefaultLookback = 48 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// dependencyLookback is Jaeger's default window for /api/dependencies.
const dependencyLookback = 24 * time.Hour

type handler struct {
	r store.Reader
	o Options
}

// NewHandler returns the Jaeger query API over r.
func NewHandler(r store.Reader, o Options) http.Handler {
	o.fill()
	h := &handler{r: r, o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/services", h.services)
	mux.HandleFunc("GET /api/services/{service}/operations", h.serviceOperations)
	mux.HandleFunc("GET /api/operations", h.operations)
	mux.HandleFunc("GET /api/traces", h.search)
	mux.HandleFunc("GET /api/traces/{traceID}", h.trace)
	mux.HandleFunc("GET /api/dependencies", h.dependencies)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, http.StatusNotFound, fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.o.Authorize != nil {
			if err := h.o.Authorize(r); err != nil {
				w.Header().Set("WWW-Authenticate", "Bearer")
				h.fail(w, http.StatusUnauthorized, err)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// response is Jaeger's envelope (structuredResponse).
type response struct {
	Data   any             `json:"data"`
	Total  int             `json:"total"`
	Limit  int             `json:"limit"`
	Offset int             `json:"offset"`
	Errors []responseError `json:"errors"`
}

type responseError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

func (h *handler) write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		h.o.Logger.Warn("jaeger api: writing response", "err", err)
	}
}

func (h *handler) fail(w http.ResponseWriter, status int, err error) {
	if status >= 500 {
		h.o.Logger.Error("jaeger api", "err", err)
	}
	h.write(w, status, response{Errors: []responseError{{Code: status, Msg: err.Error()}}})
}

func (h *handler) services(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.r.Services(r.Context())
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	if svcs == nil {
		svcs = []string{}
	}
	h.write(w, http.StatusOK, response{Data: svcs, Total: len(svcs)})
}

func (h *handler) serviceOperations(w http.ResponseWriter, r *http.Request) {
	ops, err := h.r.Operations(r.Context(), r.PathValue("service"), model.KindUnspecified)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	names := []string{}
	seen := map[string]bool{}
	for _, op := range ops {
		if !seen[op.Name] {
			seen[op.Name] = true
			names = append(names, op.Name)
		}
	}
	sort.Strings(names)
	h.write(w, http.StatusOK, response{Data: names, Total: len(names)})
}

func (h *handler) operations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	service := q.Get("service")
	if service == "" {
		h.fail(w, http.StatusBadRequest, errors.New("parameter 'service' is required"))
		return
	}
	kind := model.KindUnspecified
	if k := q.Get("spanKind"); k != "" {
		if kind = model.ParseKind(k); kind == model.KindUnspecified {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("unable to parse param 'spanKind': unknown span kind %q (server, client, producer, consumer or internal)", k))
			return
		}
	}
	ops, err := h.r.Operations(r.Context(), service, kind)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	data := make([]Operation, len(ops))
	for i, op := range ops {
		data[i] = Operation{Name: op.Name, SpanKind: kindText(op.Kind)}
	}
	h.write(w, http.StatusOK, response{Data: data, Total: len(data)})
}

func kindText(k model.Kind) string {
	if k == model.KindUnspecified {
		return ""
	}
	return k.String()
}

func (h *handler) trace(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseTraceID(r.PathValue("traceID"))
	if err != nil {
		h.fail(w, http.StatusBadRequest, fmt.Errorf("unable to parse param 'traceID': %q is not a trace ID of 1 to 32 hex digits", r.PathValue("traceID")))
		return
	}
	spans, err := h.r.Trace(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	h.write(w, http.StatusOK, response{Data: []Trace{EncodeTrace(id, spans)}})
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	q, ids, err := h.parseSearch(r)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	ctx := r.Context()
	traces := []Trace{}
	var errs []responseError
	if len(ids) > 0 {
		found, err := h.r.Traces(ctx, ids)
		if err != nil {
			h.fail(w, http.StatusInternalServerError, err)
			return
		}
		for _, id := range ids {
			if spans, ok := found[id]; ok && len(spans) > 0 {
				traces = append(traces, EncodeTrace(id, spans))
			} else {
				errs = append(errs, responseError{Msg: store.ErrNotFound.Error(), TraceID: traceIDText(id)})
			}
		}
		h.write(w, http.StatusOK, response{Data: traces, Errors: errs})
		return
	}
	sums, err := h.r.FindTraces(ctx, q)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	want := make([]model.TraceID, len(sums))
	for i, s := range sums {
		want[i] = s.TraceID
	}
	found, err := h.r.Traces(ctx, want)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	for _, id := range want {
		if spans := found[id]; len(spans) > 0 {
			traces = append(traces, EncodeTrace(id, spans))
		}
	}
	h.write(w, http.StatusOK, response{Data: traces})
}

// parseSearch reads /api/traces parameters as Jaeger does: service (required unless traceID is given),
// operation, tags (a JSON object, or logfmt key=value pairs as Jaeger UI's search form takes them), tag=key:value,
// minDuration and maxDuration (Go durations), start and end (Unix microseconds), lookback (1h, 2d, custom), limit,
// and traceID (repeated).
func (h *handler) parseSearch(r *http.Request) (search.Query, []model.TraceID, error) {
	p := r.URL.Query()
	var q search.Query
	var ids []model.TraceID
	for _, s := range p["traceID"] {
		id, err := model.ParseTraceID(s)
		if err != nil {
			return q, nil, fmt.Errorf("unable to parse param 'traceID': %q is not a trace ID of 1 to 32 hex digits", s)
		}
		ids = append(ids, id)
	}
	q.Service, q.Operation = p.Get("service"), p.Get("operation")
	if len(ids) == 0 && q.Service == "" {
		return q, nil, errors.New("parameter 'service' is required")
	}
	if q.Operation == "all" { // older Jaeger UIs send "all" for any operation
		q.Operation = ""
	}
	tags, err := ParseTags(p["tag"], p["tags"])
	if err != nil {
		return q, nil, err
	}
	q.Expr = TagsExpr(tags)
	for _, d := range []struct {
		name string
		to   *int64
	}{{"minDuration", &q.MinDuration}, {"maxDuration", &q.MaxDuration}} {
		if s := p.Get(d.name); s != "" {
			v, err := ParseDuration(s)
			if err != nil {
				return q, nil, fmt.Errorf("unable to parse param '%s': %w", d.name, err)
			}
			*d.to = int64(v)
		}
	}
	if q.MinDuration != 0 && q.MaxDuration != 0 && q.MaxDuration < q.MinDuration {
		return q, nil, errors.New("'maxDuration' should be greater than 'minDuration'")
	}
	end := h.o.Now().UnixNano()
	if s := p.Get("end"); s != "" {
		us, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return q, nil, fmt.Errorf("unable to parse param 'end': %q is not an integer of Unix microseconds", s)
		}
		if end, err = scale(us, 1000); err != nil {
			return q, nil, fmt.Errorf("unable to parse param 'end': %w", err)
		}
	}
	start := end - int64(h.o.DefaultLookback)
	if s := p.Get("start"); s != "" {
		us, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return q, nil, fmt.Errorf("unable to parse param 'start': %q is not an integer of Unix microseconds", s)
		}
		if start, err = scale(us, 1000); err != nil {
			return q, nil, fmt.Errorf("unable to parse param 'start': %w", err)
		}
	} else if s := p.Get("lookback"); s != "" && s != "custom" {
		d, err := ParseLookback(s)
		if err != nil {
			return q, nil, fmt.Errorf("unable to parse param 'lookback': %w", err)
		}
		start = end - int64(d)
	}
	q.Start, q.End = start, end
	q.Limit = h.o.DefaultLimit
	if s := p.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, nil, fmt.Errorf("unable to parse param 'limit': %q is not a non-negative integer", s)
		}
		if n > 0 {
			q.Limit = min(n, h.o.MaxLimit)
		}
	}
	return q, ids, nil
}

// scale converts a count of units to nanoseconds, refusing what int64 cannot hold.
func scale(n, unit int64) (int64, error) {
	if n > math.MaxInt64/unit || n < math.MinInt64/unit {
		return 0, fmt.Errorf("%d is out of range", n)
	}
	return n * unit, nil
}

// ParseDuration reads a Go duration (1.2s, 100ms, 1m30s, 250us or 250µs). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 100ms or 1.2s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// ParseLookback reads Jaeger UI's lookback values: Go durations (1h, 30m) and whole days (2d, 7d).
func ParseLookback(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a lookback like 1h or 2d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return ParseDuration(s)
}

func (h *handler) dependencies(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query()
	end := h.o.Now().UnixNano()
	if s := p.Get("endTs"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("unable to parse param 'endTs': %q is not an integer of Unix milliseconds", s))
			return
		}
		if end, err = scale(ms, 1e6); err != nil {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("unable to parse param 'endTs': %w", err))
			return
		}
	}
	lookback := int64(dependencyLookback)
	if s := p.Get("lookback"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("unable to parse param 'lookback': %q is not a non-negative integer of milliseconds", s))
			return
		}
		if lookback, err = scale(ms, 1e6); err != nil {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("unable to parse param 'lookback': %w", err))
			return
		}
	}
	deps, err := h.r.Dependencies(r.Context(), end-lookback, end)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	service := p.Get("service")
	links := []DependencyLink{}
	for _, d := range deps {
		if service == "" || d.Parent == service || d.Child == service {
			links = append(links, DependencyLink{Parent: d.Parent, Child: d.Child, CallCount: d.CallCount})
		}
	}
	h.write(w, http.StatusOK, response{Data: links})
}
