// Package api serves weft's analysis (package analyze) as JSON under /api/weft/v1/: the critical path and clock
// offsets of one trace, the aggregate views and comparisons of searches, the service graph and per-operation
// statistics. It reads traces through a store.Reader and is the source of what the web UI shows; the endpoints,
// their parameters and example answers are documented in docs/analysis.md.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weftrace/weft/analyze"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
)

// Prefix is where the handler's endpoints live.
const Prefix = "/api/weft/v1/"

// Options configures the handler. The zero value gives the documented defaults.
type Options struct {
	// DefaultLimit is how many traces a search reads when the request sets no limit (default 1000).
	DefaultLimit int
	// MaxLimit caps the limit a request may ask for (default 20000).
	MaxLimit int
	// Window is the default time window of the services and operations endpoints, ending now (default 1h).
	Window time.Duration
	// Now gives the current time; nil means time.Now.
	Now func() time.Time
	// Logger logs store failures; nil means slog.Default().
	Logger *slog.Logger
}

type handler struct {
	r   store.Reader
	o   Options
	mux *http.ServeMux
}

// NewHandler serves the analysis endpoints under Prefix, reading traces from r.
func NewHandler(r store.Reader, o Options) http.Handler {
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = 1000
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = 20000
	}
	if o.Window <= 0 {
		o.Window = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &handler{r: r, o: o, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+Prefix+"traces/{id}/critical-path", h.criticalPath)
	h.mux.HandleFunc("GET "+Prefix+"traces/{id}/clock", h.clock)
	h.mux.HandleFunc("GET "+Prefix+"aggregate", h.aggregate)
	h.mux.HandleFunc("GET "+Prefix+"compare", h.compare)
	h.mux.HandleFunc("GET "+Prefix+"services/graph", h.servicesGraph)
	h.mux.HandleFunc("GET "+Prefix+"operations/stats", h.operationStats)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s: the analysis endpoints answer GET only", r.Method))
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		writeError(w, http.StatusNotFound, fmt.Errorf("no endpoint %s %s", r.Method, r.URL.Path))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// badRequest is an error in the request's parameters (400).
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func bad(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) // an error here is the client gone: the status is sent, nothing is left to do
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	var br *badRequest
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, context.Canceled):
		writeError(w, 499, err)
	default:
		h.o.Logger.Error("analysis: store failed", "err", err)
		writeError(w, http.StatusInternalServerError, err)
	}
}

// traceID reads the trace ID in parameter param.
func traceID(text, param string) (model.TraceID, error) {
	id, err := model.ParseTraceID(text)
	if err != nil {
		return id, bad("%s: %q is not a trace ID (1 to 32 hex digits, not all zero)", param, text)
	}
	return id, nil
}

// trace reads one trace by the text of its ID.
func (h *handler) trace(ctx context.Context, text, param string) ([]*model.Span, error) {
	id, err := traceID(text, param)
	if err != nil {
		return nil, err
	}
	spans, err := h.r.Trace(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("trace %s: %w", id, store.ErrNotFound)
		}
		return nil, err
	}
	if len(spans) == 0 {
		return nil, fmt.Errorf("trace %s: %w", id, store.ErrNotFound)
	}
	return spans, nil
}

func parseChoice(r *http.Request) (analyze.Choice, error) {
	switch v := r.URL.Query().Get("choose"); v {
	case "", "zero":
		return analyze.ChooseZero, nil
	case "midpoint":
		return analyze.ChooseMidpoint, nil
	default:
		return 0, bad("choose: %q is neither zero nor midpoint", v)
	}
}

func (h *handler) criticalPath(w http.ResponseWriter, r *http.Request) {
	choose, err := parseChoice(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	spans, err := h.trace(r.Context(), r.PathValue("id"), "id")
	if err != nil {
		h.fail(w, err)
		return
	}
	p := analyze.CriticalPath(spans, choose)
	w.Header().Set("Content-Type", "application/json")
	writePath(w, p) // an error here is the client gone: the status is sent, nothing is left to do
}

func (h *handler) clock(w http.ResponseWriter, r *http.Request) {
	choose, err := parseChoice(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	spans, err := h.trace(r.Context(), r.PathValue("id"), "id")
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, clockJSON(spans, analyze.EstimateClock(spans, choose)))
}

// population is the traces of one search, in the store's order.
type population struct {
	traces    [][]*model.Span
	truncated bool
}

// parseQuery reads the search parameters, each name prefixed with prefix ("" or "a." / "b.").
func (h *handler) parseQuery(r *http.Request, prefix string) (search.Query, error) {
	v := r.URL.Query()
	get := func(k string) string { return strings.TrimSpace(v.Get(prefix + k)) }
	q := search.Query{Service: get("service"), Operation: get("operation"), Limit: h.o.DefaultLimit}
	var err error
	if text := get("q"); text != "" {
		if q.Expr, err = search.Parse(text); err != nil {
			return q, bad("%sq: %v", prefix, err)
		}
	}
	if q.MinDuration, err = parseDuration(get("minDuration"), prefix+"minDuration"); err != nil {
		return q, err
	}
	if q.MaxDuration, err = parseDuration(get("maxDuration"), prefix+"maxDuration"); err != nil {
		return q, err
	}
	if q.Start, err = parseTime(get("start"), prefix+"start"); err != nil {
		return q, err
	}
	if q.End, err = parseTime(get("end"), prefix+"end"); err != nil {
		return q, err
	}
	if q.Start != 0 && q.End != 0 && q.End < q.Start {
		return q, bad("%send is before %sstart", prefix, prefix)
	}
	if q.MaxDuration != 0 && q.MaxDuration < q.MinDuration {
		return q, bad("%smaxDuration is below %sminDuration", prefix, prefix)
	}
	if l := get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return q, bad("%slimit: %q is not a positive integer", prefix, l)
		}
		if n > h.o.MaxLimit {
			return q, bad("%slimit: %d is above the maximum %d", prefix, n, h.o.MaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// parseTime reads Unix microseconds or RFC 3339 text into Unix nanoseconds; "" is 0 (no bound).
func parseTime(s, param string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/1000 {
			return 0, bad("%s: %d is out of range", param, n)
		}
		return n * 1000, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, bad("%s: %q is neither Unix microseconds nor RFC 3339 time", param, s)
	}
	// UnixNano of a time outside 1970 to 2262 is not the time: it wraps, and could come out negative.
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(0, math.MaxInt64)) {
		return 0, bad("%s: %s is out of range (1970 to 2262)", param, s)
	}
	return t.UnixNano(), nil
}

// parseDuration reads an integer number of microseconds or Go duration text into nanoseconds; "" is 0.
func parseDuration(s, param string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/1000 {
			return 0, bad("%s: %d is out of range", param, n)
		}
		return n * 1000, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad("%s: %q is neither microseconds nor a duration like 150ms", param, s)
	}
	return int64(d), nil
}

// find runs a search and reads its traces.
func (h *handler) find(ctx context.Context, q search.Query) (*population, error) {
	found, err := h.r.FindTraces(ctx, q)
	if err != nil {
		return nil, err
	}
	ids := make([]model.TraceID, len(found))
	for i, f := range found {
		ids[i] = f.TraceID
	}
	byID, err := h.r.Traces(ctx, ids)
	if err != nil {
		return nil, err
	}
	p := &population{truncated: q.Limit > 0 && len(found) >= q.Limit}
	for _, id := range ids {
		if spans := byID[id]; len(spans) > 0 {
			p.traces = append(p.traces, spans)
		}
	}
	return p, nil
}

func (h *handler) aggregate(w http.ResponseWriter, r *http.Request) {
	q, err := h.parseQuery(r, "")
	if err != nil {
		h.fail(w, err)
		return
	}
	p, err := h.find(r.Context(), q)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, aggregationJSON(analyze.Aggregate(p.traces, analyze.Limits{}), p.truncated))
}

// unlimited aggregates a population for a comparison: pruning one side's tree would make its paths read as
// appeared or disappeared; the comparison prunes the merged tree instead.
var unlimited = analyze.Limits{Nodes: -1, Groups: 1}

func (h *handler) compare(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if v.Has("a") || v.Has("b") {
		for _, k := range []string{"a", "b"} { // both IDs checked before either is read
			if _, err := traceID(v.Get(k), k); err != nil {
				h.fail(w, err)
				return
			}
		}
		a, err := h.trace(r.Context(), v.Get("a"), "a")
		if err != nil {
			h.fail(w, err)
			return
		}
		b, err := h.trace(r.Context(), v.Get("b"), "b")
		if err != nil {
			h.fail(w, err)
			return
		}
		writeJSON(w, traceDiffJSON(analyze.CompareTraces(a, b)))
		return
	}
	hasA, hasB := false, false
	for k := range v {
		hasA = hasA || strings.HasPrefix(k, "a.")
		hasB = hasB || strings.HasPrefix(k, "b.")
	}
	if !hasA || !hasB {
		h.fail(w, bad("compare needs a=<trace id>&b=<trace id>, or search parameters prefixed a. and b. (e.g. a.q=...&b.q=...)"))
		return
	}
	minEffect := 0.1
	if s := v.Get("minEffect"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			h.fail(w, bad("minEffect: %q is not a non-negative number", s))
			return
		}
		minEffect = f
	}
	qa, err := h.parseQuery(r, "a.")
	if err != nil {
		h.fail(w, err)
		return
	}
	qb, err := h.parseQuery(r, "b.")
	if err != nil {
		h.fail(w, err)
		return
	}
	pa, err := h.find(r.Context(), qa)
	if err != nil {
		h.fail(w, err)
		return
	}
	pb, err := h.find(r.Context(), qb)
	if err != nil {
		h.fail(w, err)
		return
	}
	d := analyze.ComparePopulations(analyze.Aggregate(pa.traces, unlimited), analyze.Aggregate(pb.traces, unlimited), minEffect)
	writeJSON(w, populationDiffJSON(d, pa.truncated, pb.truncated))
}

// window reads start and end with the default of the last Options.Window.
func (h *handler) window(r *http.Request) (search.Query, error) {
	q, err := h.parseQuery(r, "")
	if err != nil {
		return q, err
	}
	if q.End == 0 {
		q.End = h.o.Now().UnixNano()
	}
	if q.Start == 0 {
		q.Start = q.End - int64(h.o.Window)
	}
	if q.End < q.Start {
		return q, bad("end is before start")
	}
	return q, nil
}

func (h *handler) servicesGraph(w http.ResponseWriter, r *http.Request) {
	q, err := h.window(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	q.Service, q.Operation, q.Expr, q.MinDuration, q.MaxDuration = "", "", nil, 0, 0 // the whole graph of the window
	p, err := h.find(r.Context(), q)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, serviceGraphJSON(analyze.Services(p.traces, q.Start, q.End), len(p.traces), p.truncated))
}

func (h *handler) operationStats(w http.ResponseWriter, r *http.Request) {
	q, err := h.window(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if q.Service == "" {
		h.fail(w, bad("service is required"))
		return
	}
	p, err := h.find(r.Context(), q)
	if err != nil {
		h.fail(w, err)
		return
	}
	ops := analyze.Operations(p.traces, q.Service, q.Operation, q.Start, q.End)
	writeJSON(w, operationsJSON(q, ops, len(p.traces), p.truncated))
}
