// Package zipkin serves Zipkin's v2 query API (what Zipkin's UI, Grafana's Zipkin data source and scripts call)
// over a store.Reader: services, span names, remote services, trace search with annotationQuery, traces by ID and
// the dependency graph, in Zipkin's v2 JSON. It sits in the query layer and imports only model, search and store;
// its span encoder is its own, apart from the Zipkin receiver's.
//
// The handler serves the paths under /api/v2/.
package zipkin

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
	DefaultLimit    int           // traces per search when the request names no limit; 0: 10, as Zipkin
	MaxLimit        int           // the most traces one search may ask for; 0: 1000
	DefaultLookback time.Duration // the window before endTs when lookback is absent; 0: 24h, as Zipkin
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
		o.DefaultLimit = 10
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = 1000
	}
	if o.DefaultLimit > o.MaxLimit {
		o.DefaultLimit = o.MaxLimit
	}
	if o.DefaultLookback <= 0 {
		o.DefaultLookback = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

type handler struct {
	r store.Reader
	o Options
}

// NewHandler returns the Zipkin v2 query API over r.
func NewHandler(r store.Reader, o Options) http.Handler {
	o.fill()
	h := &handler{r: r, o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/services", h.services)
	mux.HandleFunc("GET /api/v2/spans", h.spans)
	mux.HandleFunc("GET /api/v2/remoteServices", h.remoteServices)
	mux.HandleFunc("GET /api/v2/traces", h.traces)
	mux.HandleFunc("GET /api/v2/trace/{traceId}", h.trace)
	mux.HandleFunc("GET /api/v2/traceMany", h.traceMany)
	mux.HandleFunc("GET /api/v2/dependencies", h.dependencies)
	mux.HandleFunc("GET /api/v2/autocompleteKeys", h.autocompleteKeys)
	mux.HandleFunc("GET /api/v2/autocompleteValues", h.autocompleteValues)
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

func (h *handler) write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		h.o.Logger.Warn("zipkin api: writing response", "err", err)
	}
}

// fail answers as Zipkin does: a plain-text message.
func (h *handler) fail(w http.ResponseWriter, status int, err error) {
	if status >= 500 {
		h.o.Logger.Error("zipkin api", "err", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, err.Error())
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *handler) services(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.r.Services(r.Context())
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	h.write(w, nonNil(svcs))
}

func (h *handler) spans(w http.ResponseWriter, r *http.Request) {
	svc := r.URL.Query().Get("serviceName")
	if svc == "" {
		h.fail(w, http.StatusBadRequest, errors.New("serviceName is required"))
		return
	}
	ops, err := h.r.Operations(r.Context(), svc, model.KindUnspecified)
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
	h.write(w, names)
}

// remoteServices lists the services that svc calls: its children in the dependency graph and the peer.service of
// its spans in recent traces.
func (h *handler) remoteServices(w http.ResponseWriter, r *http.Request) {
	svc := r.URL.Query().Get("serviceName")
	if svc == "" {
		h.fail(w, http.StatusBadRequest, errors.New("serviceName is required"))
		return
	}
	ctx := r.Context()
	end := h.o.Now().UnixNano()
	deps, err := h.r.Dependencies(ctx, end-int64(h.o.DefaultLookback), end)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	set := map[string]bool{}
	for _, d := range deps {
		if d.Parent == svc {
			set[d.Child] = true
		}
	}
	peer := search.Attribute("peer.service")
	sums, err := h.r.FindTraces(ctx, search.Query{Service: svc, Expr: &search.Exists{Field: peer}, Limit: h.o.MaxLimit,
		Start: end - int64(h.o.DefaultLookback), End: end})
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	ids := make([]model.TraceID, len(sums))
	for i, s := range sums {
		ids[i] = s.TraceID
	}
	traces, err := h.r.Traces(ctx, ids)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	for _, spans := range traces {
		for _, s := range spans {
			if s.Service() != svc {
				continue
			}
			for _, a := range s.Attrs {
				if a.Key == "peer.service" && a.Value.AsString() != "" {
					set[a.Value.AsString()] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	h.write(w, out)
}

func (h *handler) traces(w http.ResponseWriter, r *http.Request) {
	q, err := h.parseQuery(r)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	ctx := r.Context()
	sums, err := h.r.FindTraces(ctx, q)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	ids := make([]model.TraceID, len(sums))
	for i, s := range sums {
		ids[i] = s.TraceID
	}
	found, err := h.r.Traces(ctx, ids)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := [][]Span{}
	for _, id := range ids {
		if spans := found[id]; len(spans) > 0 {
			out = append(out, EncodeTrace(spans))
		}
	}
	h.write(w, out)
}

// parseQuery reads /api/v2/traces parameters: serviceName, spanName ("all" for any), remoteServiceName,
// annotationQuery, minDuration and maxDuration (microseconds), endTs (Unix milliseconds, default now), lookback
// (milliseconds, default 24h) and limit (default 10).
func (h *handler) parseQuery(r *http.Request) (search.Query, error) {
	p := r.URL.Query()
	var q search.Query
	q.Service = p.Get("serviceName")
	if q.Operation = p.Get("spanName"); q.Operation == "all" {
		q.Operation = ""
	}
	var xs []search.Expr
	if rs := p.Get("remoteServiceName"); rs != "" {
		xs = append(xs, &search.Compare{Field: search.Attribute("peer.service"), Op: search.OpEq, Value: model.String(rs)})
	}
	if aq := p.Get("annotationQuery"); aq != "" {
		e, err := ParseAnnotationQuery(aq)
		if err != nil {
			return q, err
		}
		if e != nil {
			xs = append(xs, e)
		}
	}
	switch len(xs) {
	case 1:
		q.Expr = xs[0]
	case 2:
		q.Expr = &search.And{Exprs: xs}
	}
	var err error
	if q.MinDuration, err = intParam(p.Get("minDuration"), "minDuration", "microseconds", 1000, 0); err != nil {
		return q, err
	}
	if q.MaxDuration, err = intParam(p.Get("maxDuration"), "maxDuration", "microseconds", 1000, 0); err != nil {
		return q, err
	}
	if q.MinDuration != 0 && q.MaxDuration != 0 && q.MaxDuration < q.MinDuration {
		return q, errors.New("maxDuration should be >= minDuration")
	}
	if q.End, err = intParam(p.Get("endTs"), "endTs", "Unix milliseconds", 1e6, h.o.Now().UnixNano()); err != nil {
		return q, err
	}
	lookback, err := intParam(p.Get("lookback"), "lookback", "milliseconds", 1e6, int64(h.o.DefaultLookback))
	if err != nil {
		return q, err
	}
	if q.Start = q.End - lookback; q.Start <= 0 {
		q.Start = 1 // from the epoch: 0 would mean no bound, which is the same
	}
	limit, err := intParam(p.Get("limit"), "limit", "count", 1, int64(h.o.DefaultLimit))
	if err != nil {
		return q, err
	}
	if limit == 0 {
		limit = int64(h.o.DefaultLimit)
	}
	q.Limit = int(min(limit, int64(h.o.MaxLimit)))
	return q, nil
}

// intParam reads a non-negative integer parameter and multiplies it by unit; empty text gives def.
func intParam(s, name, what string, unit, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q is not a non-negative integer (%s)", name, s, what)
	}
	if n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%s=%q is out of range", name, s)
	}
	return n * unit, nil
}

// ParseAnnotationQuery reads Zipkin's annotationQuery: terms joined by " and ", each either key=value (the tag
// key has exactly that value) or a bare word (the span has that tag, or an annotation of that value). The word
// error also matches a failed span, since receivers turn Zipkin's error tag into the span's status. Every term
// must hold on one span.
func ParseAnnotationQuery(s string) (search.Expr, error) {
	var xs []search.Expr
	for _, term := range strings.Split(s, " and ") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		key, value, hasValue := strings.Cut(term, "=")
		key = strings.TrimSpace(key)
		if key == "" {
			return nil, fmt.Errorf("annotationQuery: term %q has no key", term)
		}
		f := search.Attribute(key)
		var x search.Expr
		if hasValue {
			x = &search.Compare{Field: f, Op: search.OpEq, Value: model.String(strings.TrimSpace(value))}
		} else {
			or := &search.Or{Exprs: []search.Expr{
				&search.Exists{Field: f},
				&search.Compare{Field: search.Intrinsic(search.FieldEvent), Op: search.OpEq, Value: model.String(key)},
			}}
			if key == "error" {
				or.Exprs = append(or.Exprs, &search.Compare{Field: search.Intrinsic(search.FieldStatus), Op: search.OpEq, Value: model.String("error")})
			}
			x = or
		}
		xs = append(xs, x)
	}
	switch len(xs) {
	case 0:
		return nil, nil
	case 1:
		return xs[0], nil
	}
	return &search.And{Exprs: xs}, nil
}

func parseTraceID(s string) (model.TraceID, error) {
	id, err := model.ParseTraceID(s)
	if err != nil {
		return id, fmt.Errorf("%q is not a trace ID of 1 to 32 hex digits", s)
	}
	return id, nil
}

func (h *handler) trace(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("traceId")
	id, err := parseTraceID(raw)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	spans, err := h.r.Trace(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && len(spans) == 0 {
		h.fail(w, http.StatusNotFound, fmt.Errorf("%s not found", traceIDText(id)))
		return
	}
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	h.write(w, EncodeTrace(spans))
}

// traceMany answers the traces of a comma-separated traceIds list that the store holds, in the order asked.
func (h *handler) traceMany(w http.ResponseWriter, r *http.Request) {
	list := r.URL.Query().Get("traceIds")
	if list == "" {
		h.fail(w, http.StatusBadRequest, errors.New("traceIds parameter is empty"))
		return
	}
	var ids []model.TraceID
	seen := map[model.TraceID]bool{}
	for _, s := range strings.Split(list, ",") {
		id, err := parseTraceID(strings.TrimSpace(s))
		if err != nil {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("traceIds: %w", err))
			return
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	found, err := h.r.Traces(r.Context(), ids)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := [][]Span{}
	for _, id := range ids {
		if spans := found[id]; len(spans) > 0 {
			out = append(out, EncodeTrace(spans))
		}
	}
	h.write(w, out)
}

func (h *handler) dependencies(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query()
	end, err := intParam(p.Get("endTs"), "endTs", "Unix milliseconds", 1e6, h.o.Now().UnixNano())
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	lookback, err := intParam(p.Get("lookback"), "lookback", "milliseconds", 1e6, int64(h.o.DefaultLookback))
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	start := max(end-lookback, 1)
	deps, err := h.r.Dependencies(r.Context(), start, end)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]DependencyLink, len(deps))
	for i, d := range deps {
		out[i] = DependencyLink{Parent: d.Parent, Child: d.Child, CallCount: d.CallCount, ErrorCount: d.ErrorCount}
	}
	h.write(w, out)
}

func (h *handler) autocompleteKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := h.r.AttributeKeys(r.Context())
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	h.write(w, nonNil(keys))
}

func (h *handler) autocompleteValues(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		h.fail(w, http.StatusBadRequest, errors.New("key is required"))
		return
	}
	vals, err := h.r.AttributeValues(r.Context(), key, "", h.o.MaxLimit)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	h.write(w, nonNil(vals))
}
