// Package weft serves weft's own query API under /api/weft/v1/ (documented in docs/api.md), which the web UI and
// the analysis read: a trace with its events and execution units, search in weft's query language
// (docs/query-language.md) answering trace summaries, attribute keys and values for autocompletion, services and
// operations, and a trace as OTLP JSON for download. It sits in the query layer over a store.Reader and imports
// only model, search and store.
package weft

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
	"sync"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
)

// Prefix is the path under which the handler serves.
const Prefix = "/api/weft/v1/"

// Options configure the handler. The zero value works.
type Options struct {
	Logger          *slog.Logger  // nil: slog.Default()
	DefaultLimit    int           // traces per search when the request names no limit; 0: 20
	MaxLimit        int           // the most traces (and autocompletion values) one request may ask for; 0: 1000
	DefaultLookback time.Duration // how far before end a search looks when start and lookback are absent; 0: 24h
	// MaxQueryBytes bounds the q parameter; 0: 16 KiB.
	MaxQueryBytes int
	// Fallback, if set, serves the requests that match none of this API's routes (the analysis API shares the
	// prefix); nil answers them 404.
	Fallback http.Handler
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
		o.MaxLimit = 1000
	}
	if o.DefaultLimit > o.MaxLimit {
		o.DefaultLimit = o.MaxLimit
	}
	if o.DefaultLookback <= 0 {
		o.DefaultLookback = 24 * time.Hour
	}
	if o.MaxQueryBytes <= 0 {
		o.MaxQueryBytes = 16 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// defaultValues is how many autocompletion values /attributes/values gives without a limit.
const defaultValues = 100

type handler struct {
	r      store.Reader
	o      Options
	recent recentTraces
}

// NewHandler returns weft's query API over r, serving the paths under Prefix.
func NewHandler(r store.Reader, o Options) http.Handler {
	o.fill()
	h := &handler{r: r, o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"traces/{id}", h.trace)
	mux.HandleFunc("GET "+Prefix+"traces/{id}/otlp", h.otlp)
	mux.HandleFunc("GET "+Prefix+"search", h.search)
	mux.HandleFunc("GET "+Prefix+"services", h.services)
	mux.HandleFunc("GET "+Prefix+"operations", h.operations)
	mux.HandleFunc("GET "+Prefix+"attributes/keys", h.keys)
	mux.HandleFunc("GET "+Prefix+"attributes/values", h.values)
	// The same, under the paths the web UI asks first.
	mux.HandleFunc("GET "+Prefix+"attributes", h.keys)
	mux.HandleFunc("GET "+Prefix+"attributes/{key}/values", h.values)
	if o.Fallback != nil {
		mux.Handle("/", o.Fallback)
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			h.fail(w, http.StatusNotFound, fmt.Errorf("no such endpoint: %s %s", r.Method, r.URL.Path))
		})
	}
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

func (h *handler) write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		h.o.Logger.Warn("weft api: writing response", "err", err)
	}
}

// errorBody is every error's answer. Column is set for a query that does not parse.
type errorBody struct {
	Error  string `json:"error"`
	Column int    `json:"column,omitempty"`
}

func (h *handler) fail(w http.ResponseWriter, status int, err error) {
	if status >= 500 {
		h.o.Logger.Error("weft api", "err", err)
		err = errors.New("internal error: " + err.Error())
	}
	body := errorBody{Error: err.Error()}
	var pe *search.ParseError
	if errors.As(err, &pe) {
		body.Column = pe.Column
	}
	h.write(w, status, body)
}

func (h *handler) traceID(w http.ResponseWriter, r *http.Request) (model.TraceID, bool) {
	s := r.PathValue("id")
	id, err := model.ParseTraceID(s)
	if err != nil {
		h.fail(w, http.StatusBadRequest, fmt.Errorf("trace ID %q is not 1 to 32 hex digits", s))
		return id, false
	}
	return id, true
}

// load reads the trace the request names. A waterfall answer reads the store
// and keeps what it read for a moment (recentTraces); the other answers use that read when there is one.
func (h *handler) load(w http.ResponseWriter, r *http.Request, waterfall bool) (model.TraceID, []*model.Span, bool) {
	id, ok := h.traceID(w, r)
	if !ok {
		return id, nil, false
	}
	now := h.o.Now()
	if !waterfall {
		if spans, ok := h.recent.get(id, now); ok {
			return id, spans, true
		}
	}
	spans, err := h.r.Trace(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && len(spans) == 0 {
		h.fail(w, http.StatusNotFound, fmt.Errorf("trace %s not found", id))
		return id, nil, false
	}
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return id, nil, false
	}
	if waterfall {
		h.recent.put(id, spans, now)
	}
	return id, spans, true
}

var answerPool sync.Pool

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// spanIDs parses the spanID parameter: span IDs separated by commas, or none.
func spanIDs(r *http.Request) (map[model.SpanID]bool, error) {
	q := r.URL.Query()["spanID"]
	if len(q) == 0 {
		return nil, nil
	}
	want := map[model.SpanID]bool{}
	for _, v := range q {
		for _, s := range strings.Split(v, ",") {
			id, err := model.ParseSpanID(s)
			if err != nil {
				return nil, fmt.Errorf("span ID %q is not 1 to 16 hex digits", s)
			}
			want[id] = true
		}
	}
	return want, nil
}

func (h *handler) trace(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format != "" && format != ColumnarFormat && format != WaterfallFormat && format != "json" {
		h.fail(w, http.StatusBadRequest, fmt.Errorf("format %q is not json, %s or %s", format, ColumnarFormat, WaterfallFormat))
		return
	}
	want, err := spanIDs(r)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	t0 := time.Now()
	id, spans, ok := h.load(w, r, format == WaterfallFormat && want == nil)
	if !ok {
		return
	}
	t1 := time.Now()
	if want != nil {
		var some []*model.Span
		for _, s := range spans {
			if want[s.SpanID] {
				some = append(some, s)
			}
		}
		if len(some) == 0 {
			h.fail(w, http.StatusNotFound, fmt.Errorf("trace %s has no span %s", id, r.URL.Query().Get("spanID")))
			return
		}
		spans = some
	}
	var body []byte
	switch format {
	case WaterfallFormat:
		// The answer's bytes are kept for the next one (4 MB for 100,000 spans).
		bp, _ := answerPool.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		body = AppendWaterfall((*bp)[:0], id, spans)
		defer func() {
			*bp = body[:0]
			answerPool.Put(bp)
		}()
	case ColumnarFormat:
		t := EncodeTrace(id, spans)
		body = t.AppendColumnar(nil)
	default:
		t := EncodeTrace(id, spans)
		body = t.AppendJSON(nil)
	}
	w.Header().Set("Content-Type", "application/json")
	// Where the time went, for a browser's developer tools and the UI's measurements (docs/bench/ui.md).
	w.Header().Set("Server-Timing", fmt.Sprintf("read;dur=%.1f, encode;dur=%.1f", ms(t1.Sub(t0)), ms(time.Since(t1))))
	if _, err := w.Write(append(body, '\n')); err != nil {
		h.o.Logger.Warn("weft api: writing trace", "err", err)
	}
}

func (h *handler) otlp(w http.ResponseWriter, r *http.Request) {
	if id, spans, ok := h.load(w, r, false); ok {
		w.Header().Set("Content-Disposition", `attachment; filename="trace-`+id.String()+`.otlp.json"`)
		h.write(w, http.StatusOK, EncodeOTLP(spans))
	}
}

// Summary is one search result. As in the analysis API, times are Unix microseconds and durations microseconds.
type Summary struct {
	TraceID     string         `json:"traceID"`
	RootService string         `json:"rootService"`
	RootName    string         `json:"rootName"`
	Start       int64          `json:"start"`    // Unix µs
	Duration    float64        `json:"duration"` // µs, with a fraction below a microsecond
	SpanCount   int            `json:"spanCount"`
	ErrorCount  int            `json:"errorCount"`
	Services    []ServiceCount `json:"services"`
}

// SearchResult is the answer of /search.
type SearchResult struct {
	Traces []Summary `json:"traces"`
	Query  string    `json:"query"` // the canonical form of q ("" for none)
	Start  int64     `json:"start"` // the time range searched, Unix µs
	End    int64     `json:"end"`
	Limit  int       `json:"limit"`
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	q, err := h.parseSearch(r)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	sums, err := h.r.FindTraces(r.Context(), q)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	res := SearchResult{Traces: make([]Summary, len(sums)), Start: q.Start / 1000, End: q.End / 1000, Limit: q.Limit}
	if q.Expr != nil {
		res.Query = q.Expr.String()
	}
	for i, s := range sums {
		sum := Summary{
			TraceID: s.TraceID.String(), RootService: s.RootService, RootName: s.RootName,
			Start: s.Start / 1000, Duration: float64(s.Duration) / 1000,
			SpanCount: s.SpanCount, ErrorCount: s.ErrorCount, Services: make([]ServiceCount, len(s.Services)),
		}
		for j, c := range s.Services {
			sum.Services[j] = ServiceCount{Service: c.Service, Spans: c.Spans}
		}
		res.Traces[i] = sum
	}
	h.write(w, http.StatusOK, res)
}

// parseSearch reads q, service, operation, kind, minDuration, maxDuration, start, end, lookback and limit.
func (h *handler) parseSearch(r *http.Request) (search.Query, error) {
	p := r.URL.Query()
	var q search.Query
	if text := p.Get("q"); text != "" {
		if len(text) > h.o.MaxQueryBytes {
			return q, fmt.Errorf("q is %d bytes, more than the %d allowed", len(text), h.o.MaxQueryBytes)
		}
		e, err := search.Parse(text)
		if err != nil {
			return q, err
		}
		q.Expr = e
	}
	q.Service, q.Operation = p.Get("service"), p.Get("operation")
	if k := p.Get("kind"); k != "" {
		if q.Kind = model.ParseKind(k); q.Kind == model.KindUnspecified {
			return q, fmt.Errorf("kind %q is not one of server, client, producer, consumer, internal", k)
		}
	}
	for _, d := range []struct {
		name string
		to   *int64
	}{{"minDuration", &q.MinDuration}, {"maxDuration", &q.MaxDuration}} {
		if s := p.Get(d.name); s != "" {
			v, err := ParseDuration(s)
			if err != nil {
				return q, fmt.Errorf("%s: %w", d.name, err)
			}
			*d.to = int64(v)
		}
	}
	if q.MinDuration != 0 && q.MaxDuration != 0 && q.MaxDuration < q.MinDuration {
		return q, errors.New("maxDuration is less than minDuration")
	}
	q.End = h.o.Now().UnixNano()
	if s := p.Get("end"); s != "" {
		t, err := ParseTime(s)
		if err != nil {
			return q, fmt.Errorf("end: %w", err)
		}
		q.End = t
	}
	lookback := h.o.DefaultLookback
	if s := p.Get("lookback"); s != "" {
		d, err := ParseDuration(s)
		if err != nil {
			return q, fmt.Errorf("lookback: %w", err)
		}
		lookback = d
	}
	q.Start = q.End - int64(lookback)
	if s := p.Get("start"); s != "" {
		t, err := ParseTime(s)
		if err != nil {
			return q, fmt.Errorf("start: %w", err)
		}
		q.Start = t
	}
	if q.Start > q.End {
		return q, errors.New("start is after end")
	}
	var err error
	if q.Limit, err = h.limit(p.Get("limit"), h.o.DefaultLimit); err != nil {
		return q, err
	}
	return q, nil
}

func (h *handler) limit(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("limit %q is not a non-negative integer", s)
	}
	if n == 0 {
		return def, nil
	}
	return min(n, h.o.MaxLimit), nil
}

// ParseDuration reads a non-negative Go duration (150ms, 2s, 1m30s, 250us), whole days (7d) or an integer number
// of microseconds (as the analysis API does).
func ParseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/1000 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return time.Duration(n) * time.Microsecond, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a duration like 150ms, 2s, 1h or 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like 150ms, 2s, 1h or 7d, or microseconds", s)
	}
	return d, nil
}

// ParseTime reads a time given as Unix microseconds (an integer, as the analysis API and the Jaeger API take
// them) or RFC 3339 (2026-11-22T12:00:00Z) into Unix nanoseconds.
func ParseTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/1000 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return n * 1000, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither Unix microseconds nor an RFC 3339 time", s)
	}
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(0, math.MaxInt64)) { // what int64 nanoseconds hold
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return t.UnixNano(), nil
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
	h.write(w, http.StatusOK, struct {
		Services []string `json:"services"`
	}{svcs})
}

// Operation is a span name of a service, with its kind.
type Operation struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

func (h *handler) operations(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query()
	kind := model.KindUnspecified
	if k := p.Get("kind"); k != "" {
		if kind = model.ParseKind(k); kind == model.KindUnspecified {
			h.fail(w, http.StatusBadRequest, fmt.Errorf("kind %q is not one of server, client, producer, consumer, internal", k))
			return
		}
	}
	ops, err := h.r.Operations(r.Context(), p.Get("service"), kind)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]Operation, len(ops))
	for i, op := range ops {
		out[i] = Operation{Name: op.Name, Kind: op.Kind.String()}
	}
	h.write(w, http.StatusOK, struct {
		Operations []Operation `json:"operations"`
	}{out})
}

var intrinsics = []string{search.FieldService, search.FieldName, search.FieldDuration, search.FieldStatus, search.FieldKind, search.FieldEvent}

func (h *handler) keys(w http.ResponseWriter, r *http.Request) {
	keys, err := h.r.AttributeKeys(r.Context())
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	if keys == nil {
		keys = []string{}
	}
	h.write(w, http.StatusOK, struct {
		Intrinsics []string `json:"intrinsics"`
		Keys       []string `json:"keys"`
	}{intrinsics, keys})
}

// values answers the values seen for key that start with prefix. The key may be written as in the query language
// (http.method, span.http.method, resource.host.name, ."a b"); the intrinsics service, name, status and kind give
// their own values (name those of the service parameter, when given).
func (h *handler) values(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query()
	key, prefix := p.Get("key"), p.Get("prefix")
	if k := r.PathValue("key"); k != "" {
		key = k
	}
	if key == "" {
		h.fail(w, http.StatusBadRequest, errors.New("key is required"))
		return
	}
	limit, err := h.limit(p.Get("limit"), defaultValues)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	field := search.Attribute(key)
	if isIntrinsic(key) {
		field = search.Intrinsic(key)
	} else if e, err := search.Parse(key); err == nil {
		if x, ok := e.(*search.Exists); ok {
			field = x.Field
		}
	}
	ctx := r.Context()
	var vals []string
	if field.Scope == search.ScopeIntrinsic {
		switch field.Name {
		case search.FieldService:
			vals, err = h.r.Services(ctx)
		case search.FieldName:
			var ops []store.Operation
			ops, err = h.r.Operations(ctx, p.Get("service"), model.KindUnspecified)
			seen := map[string]bool{}
			for _, op := range ops {
				if !seen[op.Name] {
					seen[op.Name] = true
					vals = append(vals, op.Name)
				}
			}
			sort.Strings(vals)
		case search.FieldStatus:
			vals = []string{"error", "ok", "unset"}
		case search.FieldKind:
			vals = []string{"client", "consumer", "internal", "producer", "server", "unspecified"}
		}
		var kept []string
		for _, v := range vals {
			if strings.HasPrefix(v, prefix) && len(kept) < limit {
				kept = append(kept, v)
			}
		}
		vals = kept
	} else {
		vals, err = h.r.AttributeValues(ctx, field.Name, prefix, limit)
	}
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	if vals == nil {
		vals = []string{}
	}
	h.write(w, http.StatusOK, struct {
		Key    string   `json:"key"`
		Values []string `json:"values"`
	}{field.Name, vals})
}

func isIntrinsic(k string) bool {
	for _, i := range intrinsics {
		if i == k {
			return true
		}
	}
	return false
}
