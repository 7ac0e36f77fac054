// Package zipkin is weft's Zipkin receiver: POST /api/v2/spans in JSON and proto3 and POST /api/v1/spans in
// JSON, as zipkin-go, Brave, zipkin-js and the OpenTelemetry Zipkin exporters send them. It decodes into
// model.Span — the local endpoint's service becomes the resource, the remote endpoint becomes peer.service and
// net.peer.* attributes, annotations become events, tags stay string attributes, the error tag becomes an error
// status — and hands each request whole to an ingest.Consumer. EncodeJSON writes model spans as Zipkin v2 JSON
// for the Zipkin-compatible query API. It sits at the start of the flow: receive → write-ahead log → store.
package zipkin

import (
	"context"
	"mime"
	"net/http"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// Receiver is the receiver's name, the "receiver" label of the ingest metrics.
const Receiver = "zipkin"

// Paths the handler serves.
const (
	SpansPathV2 = "/api/v2/spans"
	SpansPathV1 = "/api/v1/spans"
)

// NewHandler serves Zipkin's span intake: POST /api/v2/spans with a JSON list of spans (application/json) or a
// proto3 ListOfSpans (application/x-protobuf), and POST /api/v1/spans with a v1 JSON list, gzip-encoded or not.
// It answers 202 Accepted once the consumer has the spans durably. A malformed payload answers 400 naming what
// was wrong and nothing of it is stored; a body over o's limit answers 413; an overloaded consumer 429 with
// Retry-After.
func NewHandler(c ingest.Consumer, o ingest.Options) http.Handler {
	return &handler{c: c, o: o}
}

type handler struct {
	c ingest.Consumer
	o ingest.Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v1 := false
	switch r.URL.Path {
	case SpansPathV2:
	case SpansPathV1:
		v1 = true
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "spans are sent with POST", http.StatusMethodNotAllowed)
		return
	}
	defer h.o.Metrics.Begin(Receiver)()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var format Format
	switch {
	case mt == "" || mt == "application/json" || mt == "text/plain":
		format = JSONV2
		if v1 {
			format = JSONV1
		}
	case (mt == "application/x-protobuf" || mt == "application/protobuf") && !v1:
		format = Proto3
	default:
		h.o.Metrics.Request(Receiver, &ingest.BadInputError{})
		http.Error(w, "unsupported Content-Type "+mt+" on "+r.URL.Path, http.StatusUnsupportedMediaType)
		return
	}
	err := h.take(r.Context(), w, r, format)
	h.o.Metrics.Request(Receiver, err)
	if err != nil {
		h.o.Log().Debug("refused Zipkin request", "remote", r.RemoteAddr, "status", ingest.HTTPStatus(err), "err", err)
		ingest.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (h *handler) take(ctx context.Context, w http.ResponseWriter, r *http.Request, format Format) error {
	if err := ingest.Admit(w, r, h.o); err != nil {
		return err
	}
	body, release, err := ingest.ReadBodyPooled(w, r, h.o)
	if err != nil {
		if bad, ok := err.(*ingest.BadInputError); ok {
			bad.Protocol = "zipkin"
		}
		return err
	}
	defer release() // the decoders copy what they keep
	h.o.Metrics.Bytes(Receiver, len(body))
	spans, err := Decode(body, format)
	if err != nil {
		return err
	}
	return ingest.Deliver(ctx, h.c, h.o, Receiver, spans)
}

// Format is one of the wire formats the receiver reads.
type Format uint8

// The wire formats.
const (
	JSONV2 Format = iota // a JSON list of v2 spans
	JSONV1               // a JSON list of v1 spans (annotations and binary annotations)
	Proto3               // a proto3 ListOfSpans
)

// Decode decodes a request body in format f and converts it to model spans, each with its causality extracted
// and conventions applied. Any malformed span fails the whole request with a *ingest.BadInputError naming it.
func Decode(body []byte, f Format) ([]*model.Span, error) {
	var zs []zspan
	var err error
	switch f {
	case JSONV2:
		zs, err = decodeJSONV2(body)
	case JSONV1:
		zs, err = decodeJSONV1(body)
	case Proto3:
		zs, err = decodeProto(body)
	}
	if err != nil {
		return nil, &ingest.BadInputError{Protocol: "zipkin", Msg: err.Error()}
	}
	return toModel(zs), nil
}
