// Package datadog is weft's receiver for the Datadog trace-agent API (port 8126 by default), so that programs
// instrumented with Datadog's tracers (dd-trace-go, dd-trace-py, dd-trace-java, ...) send their spans to weft
// unchanged. It sits at the start of weft's flow: it decodes /v0.3, /v0.4 and /v0.5 trace payloads (msgpack, and
// JSON for v0.3) into model.Span and hands each request whole to an ingest.Consumer. It also answers /info and the
// other endpoints tracers call (stats, remote configuration, telemetry, the event proxy) so that they run without
// errors; what those carry is not kept.
//
// Datadog's fields map onto the model as follows: service → Resource.Service (one Resource per service, env and
// version in a request), name → Name, resource → SpanResource, type → SpanType, error ≠ 0 → StatusError with
// error.msg as the message, meta → string attributes, metrics → float attributes, meta span.kind → Kind (or, when
// absent, the type: web → server, http, databases and caches → client), and the 64-bit trace ID with meta
// _dd.p.tid as its upper half → the 128-bit TraceID, for every span of the chunk that the tag's span belongs to.
// Span events and links come from /v0.4's span_events and span_links, or from meta "events" and "_dd.span_links"
// as JSON.
package datadog

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// receiver is the name of this receiver in metrics and logs.
const receiver = "datadog"

// NewHandler serves the Datadog trace-agent API, handing decoded spans to c.
func NewHandler(c ingest.Consumer, o ingest.Options) http.Handler {
	h := &handler{c: c, o: o}
	mux := http.NewServeMux()
	mux.Handle("/v0.3/traces", h.traces(decodeV03))
	mux.Handle("/v0.4/traces", h.traces(decodeV03)) // same payload as v0.3; dd-trace clients send msgpack
	mux.Handle("/v0.5/traces", h.traces(func(b *builder, _ string, body []byte) ([]*model.Span, error) {
		return b.decodeV05(body)
	}))
	mux.HandleFunc("/info", h.info)
	for _, p := range acceptedOnly {
		mux.HandleFunc(p, h.discard)
	}
	return mux
}

// decodeV03 decodes the payload of /v0.3/traces and /v0.4/traces: JSON or msgpack by content type.
func decodeV03(b *builder, contentType string, body []byte) ([]*model.Span, error) {
	if isJSON(contentType, body) {
		return b.decodeJSON(body)
	}
	return b.decodeV04(body)
}

// advertised are the endpoints /info lists. Stats and remote configuration are answered but not listed: a tracer
// that sees /v0.6/stats computes stats for it (work weft would throw away) and may drop unsampled traces, and one
// that sees /v0.7/config polls it. Listing the telemetry and event proxies keeps tracers from sending those to
// Datadog's servers directly.
var advertised = []string{
	"/v0.3/traces",
	"/v0.4/traces",
	"/v0.5/traces",
	"/telemetry/proxy/",
	"/v0.1/pipeline_stats",
	"/evp_proxy/v1/",
	"/evp_proxy/v2/",
	"/evp_proxy/v3/",
	"/evp_proxy/v4/",
}

// acceptedOnly are the endpoints whose payloads are read and dropped, answered with an empty JSON object.
var acceptedOnly = []string{
	"/v0.6/stats",
	"/v0.7/config",
	"/telemetry/proxy/",
	"/v0.1/pipeline_stats",
	"/evp_proxy/",
	"/profiling/v1/input",
	"/debugger/v1/input",
	"/debugger/v1/diagnostics",
	"/debugger/v2/input",
	"/symdb/v1/input",
	"/dogstatsd/v2/proxy",
}

// rateByService is the answer to a trace payload: sample everything, as the agent says to a tracer before it has
// rates of its own. weft decides what to keep after the spans arrive.
var rateByService = []byte(`{"rate_by_service":{"service:,env:":1}}` + "\n")

type handler struct {
	c ingest.Consumer
	o ingest.Options
}

// decodeFunc decodes a request's body into b's memory.
type decodeFunc func(b *builder, contentType string, body []byte) ([]*model.Span, error)

func (h *handler) traces(decode decodeFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			w.Header().Set("Allow", "PUT, POST")
			http.Error(w, "use PUT or POST", http.StatusMethodNotAllowed)
			return
		}
		defer h.o.Metrics.Begin(receiver)()
		err := h.handle(w, r, decode)
		h.o.Metrics.Request(receiver, err)
		if err != nil {
			ingest.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(rateByService)
	})
}

func (h *handler) handle(w http.ResponseWriter, r *http.Request, decode decodeFunc) error {
	if err := ingest.Admit(w, r, h.o); err != nil {
		return err
	}
	body, release, err := ingest.ReadBodyPooled(w, r, h.o)
	if err != nil {
		return err
	}
	defer release() // the decoders copy what they keep
	h.o.Metrics.Bytes(receiver, len(body))
	batch := ingest.NewBatch(h.c)
	b := newBuilder(headerOf(r), batch)
	// The spans' memory goes back to the builder only if the consumer said it let go of them; the answer needs
	// nothing of them.
	defer func() { b.release(ingest.Released(batch)) }()
	spans, err := decode(b, r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	return ingest.DeliverBatch(r.Context(), h.c, h.o, receiver, spans, batch)
}

// headerOf reads what the tracer says about itself in the Datadog-Meta-* headers.
func headerOf(r *http.Request) header {
	return header{
		lang:          r.Header.Get("Datadog-Meta-Lang"),
		langVersion:   r.Header.Get("Datadog-Meta-Lang-Version"),
		interpreter:   r.Header.Get("Datadog-Meta-Lang-Interpreter"),
		tracerVersion: r.Header.Get("Datadog-Meta-Tracer-Version"),
		containerID:   r.Header.Get("Datadog-Container-ID"),
	}
}

// discard reads and drops a payload of an endpoint whose data weft does not keep.
func (h *handler) discard(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, h.o.Limit()))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}\n"))
}

// infoPayload is the agent's /info answer, reduced to what tracers read.
type infoPayload struct {
	Version                string     `json:"version"`
	GitCommit              string     `json:"git_commit"`
	Endpoints              []string   `json:"endpoints"`
	FeatureFlags           []string   `json:"feature_flags"`
	ClientDropP0s          bool       `json:"client_drop_p0s"`
	SpanMetaStructs        bool       `json:"span_meta_structs"`
	LongRunningSpans       bool       `json:"long_running_spans"`
	SpanEvents             bool       `json:"span_events"`
	EvpProxyAllowedHeaders []string   `json:"evp_proxy_allowed_headers"`
	PeerTags               []string   `json:"peer_tags"`
	SpanKindsStatsComputed []string   `json:"span_kinds_stats_computed"`
	ObfuscationVersion     int        `json:"obfuscation_version"`
	Config                 infoConfig `json:"config"`
}

type infoConfig struct {
	DefaultEnv             string                        `json:"default_env"`
	TargetTPS              float64                       `json:"target_tps"`
	MaxEPS                 float64                       `json:"max_eps"`
	ReceiverPort           int                           `json:"receiver_port"`
	ReceiverSocket         string                        `json:"receiver_socket"`
	ConnectionLimit        int                           `json:"connection_limit"`
	ReceiverTimeout        int                           `json:"receiver_timeout"`
	MaxRequestBytes        int64                         `json:"max_request_bytes"`
	StatsdPort             int                           `json:"statsd_port"`
	MaxMemory              float64                       `json:"max_memory"`
	MaxCPU                 float64                       `json:"max_cpu"`
	AnalyzedSpansByService map[string]map[string]float64 `json:"analyzed_spans_by_service"`
}

// info answers GET /info. client_drop_p0s is false so that tracers send every trace, sampled or not (weft has
// no stats from which to rebuild the dropped ones); span_events is true because /v0.4 span_events are decoded;
// span_meta_structs and long_running_spans are false because weft does not keep meta_struct and would see the
// partial flushes of long-running spans as duplicates.
func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	port := 8126
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	body, _ := json.MarshalIndent(infoPayload{
		Version:                agentVersion,
		GitCommit:              "weft",
		Endpoints:              advertised,
		FeatureFlags:           []string{},
		SpanEvents:             true,
		EvpProxyAllowedHeaders: []string{"Content-Type", "Accept-Encoding", "Content-Encoding", "User-Agent", "DD-CI-PROVIDER-NAME"},
		PeerTags:               []string{},
		SpanKindsStatsComputed: []string{},
		ObfuscationVersion:     1,
		Config: infoConfig{
			DefaultEnv:             "none",
			TargetTPS:              10,
			MaxEPS:                 200,
			ReceiverPort:           port,
			MaxRequestBytes:        h.o.Limit(),
			StatsdPort:             8125,
			AnalyzedSpansByService: map[string]map[string]float64{},
		},
	}, "", "\t")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// agentVersion is the trace-agent version weft answers as: recent enough that tracers enable what weft decodes.
const agentVersion = "7.65.0"
