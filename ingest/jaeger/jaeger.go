// Package jaeger is weft's receiver for Jaeger's thrift-over-HTTP protocol (port 14268 by default): the
// jaeger-client libraries' HTTP sender, and any program that posts a jaeger.thrift Batch to /api/traces. It sits
// at the start of weft's flow, decoding each batch into model.Span and handing it whole to an ingest.Consumer.
//
// The decoder reads the thrift binary protocol (and the compact protocol, on request) itself rather than through
// generated code, so that every length prefix is checked against the bytes left before anything is allocated.
// Jaeger's fields map onto the model as follows: process.serviceName → Resource.Service, process tags → resource
// attributes, typed tags → attributes, logs → events (named by their "event" field), the first CHILD_OF reference
// → ParentID when parentSpanId is zero (other references → links), traceIdHigh and traceIdLow → the 128-bit
// TraceID, the span.kind tag → Kind, and the error tag → StatusError.
package jaeger

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/weftrace/weft/ingest"
)

// receiver is the name of this receiver in metrics and logs.
const receiver = "jaeger"

// NewHandler serves POST /api/traces, handing decoded spans to c. The body is a jaeger.thrift Batch in the thrift
// binary protocol (Content-Type application/x-thrift or application/vnd.apache.thrift.binary), or in the compact
// protocol when the Content-Type is application/vnd.apache.thrift.compact or the query has format=compact.
// Success answers 202 Accepted, as Jaeger's collector does.
func NewHandler(c ingest.Consumer, o ingest.Options) http.Handler {
	h := &handler{c: c, o: o}
	mux := http.NewServeMux()
	mux.Handle("/api/traces", h)
	return mux
}

type handler struct {
	c ingest.Consumer
	o ingest.Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	compact, ok := protocolOf(r)
	if !ok {
		err := &ingest.BadInputError{Protocol: receiver, Msg: "unsupported Content-Type " +
			strconv.Quote(r.Header.Get("Content-Type")) + " or format " + strconv.Quote(r.URL.Query().Get("format")) +
			" (want application/x-thrift, application/vnd.apache.thrift.binary or application/vnd.apache.thrift.compact)"}
		h.o.Metrics.Request(receiver, err)
		ingest.WriteError(w, err)
		return
	}
	defer h.o.Metrics.Begin(receiver)()
	err := h.handle(w, r, compact)
	h.o.Metrics.Request(receiver, err)
	if err != nil {
		ingest.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (h *handler) handle(w http.ResponseWriter, r *http.Request, compact bool) error {
	if err := ingest.Admit(w, r, h.o); err != nil {
		return err
	}
	body, release, err := ingest.ReadBodyPooled(w, r, h.o)
	if err != nil {
		return err
	}
	defer release() // the decoder copies what it keeps
	h.o.Metrics.Bytes(receiver, len(body))
	batch := ingest.NewBatch(h.c)
	d := newDecoder(body, compact, batch)
	// The spans' memory goes back to the decoder only if the consumer said it let go of them; the answer needs
	// nothing of them.
	defer func() { d.release(ingest.Released(batch)) }()
	spans, err := d.decode()
	if err != nil {
		return err
	}
	return ingest.DeliverBatch(r.Context(), h.c, h.o, receiver, spans, batch)
}

// protocolOf tells the thrift protocol of a request from its query and Content-Type; ok is false for a content
// type that is not thrift.
func protocolOf(r *http.Request) (compact, ok bool) {
	if f := r.URL.Query().Get("format"); f != "" {
		switch strings.ToLower(f) {
		case "compact":
			return true, true
		case "binary", "thrift":
			return false, true
		}
		return false, false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false, true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, false
	}
	switch mt {
	case "application/x-thrift", "application/vnd.apache.thrift.binary", "application/octet-stream":
		return false, true
	case "application/vnd.apache.thrift.compact":
		return true, true
	}
	return false, false
}
