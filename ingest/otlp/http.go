package otlp

import (
	"context"
	"mime"
	"net/http"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weftrace/weft/ingest"
)

// Receiver names, the "receiver" label of the ingest metrics.
const (
	ReceiverHTTP = "otlp-http"
	ReceiverGRPC = "otlp-grpc"
)

// TracesPath is where OTLP/HTTP exporters send traces.
const TracesPath = "/v1/traces"

const (
	contentProtobuf = "application/x-protobuf"
	contentJSON     = "application/json"
)

// NewHTTPHandler serves OTLP/HTTP trace export: POST /v1/traces with a body of ExportTraceServiceRequest in
// protobuf (application/x-protobuf) or OTLP JSON (application/json), gzip- or deflate-encoded or not. It answers
// ExportTraceServiceResponse in the request's format, with partial_success when some spans were refused (an
// invalid ID, say) and the rest kept. Errors answer a google.rpc.Status in the request's format: 400 for a
// payload that does not decode, 413 over o's size limit, 415 for another content type, 429 with Retry-After when
// the consumer is overloaded.
func NewHTTPHandler(c ingest.Consumer, o ingest.Options) http.Handler {
	return &httpHandler{c: c, o: o}
}

type httpHandler struct {
	c ingest.Consumer
	o ingest.Options
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != TracesPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "OTLP traces are sent with POST", http.StatusMethodNotAllowed)
		return
	}
	defer h.o.Metrics.Begin(ReceiverHTTP)()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var isJSON bool
	switch mt {
	case contentProtobuf, "application/protobuf":
	case contentJSON:
		isJSON = true
	default:
		h.o.Metrics.Request(ReceiverHTTP, &ingest.BadInputError{})
		writeStatus(w, false, http.StatusUnsupportedMediaType, "unsupported Content-Type "+
			quote(r.Header.Get("Content-Type"))+": use application/x-protobuf or application/json")
		return
	}
	err := h.export(r.Context(), w, r, isJSON)
	h.o.Metrics.Request(ReceiverHTTP, err)
	if err != nil {
		h.o.Log().Debug("refused OTLP request", "remote", r.RemoteAddr, "status", ingest.HTTPStatus(err), "err", err)
		ingest.SetRetryAfter(w, err)
		writeStatus(w, isJSON, ingest.HTTPStatus(err), ingest.Message(err))
	}
}

// export decodes, delivers and, on success, answers; on failure it returns the error for ServeHTTP to answer.
func (h *httpHandler) export(ctx context.Context, w http.ResponseWriter, r *http.Request, isJSON bool) error {
	if err := ingest.Admit(w, r, h.o); err != nil {
		return err
	}
	body, release, err := ingest.ReadBodyPooled(w, r, h.o)
	if err != nil {
		if bad, ok := err.(*ingest.BadInputError); ok {
			bad.Protocol = "otlp"
		}
		return err
	}
	defer release() // the decoders copy what they keep
	h.o.Metrics.Bytes(ReceiverHTTP, len(body))
	var d decoded
	var b ingest.Batch // the consumer's, filled while decoding protobuf
	if isJSON {
		req := &coltracepb.ExportTraceServiceRequest{}
		if err = UnmarshalJSON(body, req); err != nil {
			return err
		}
		d = fromProto(req.GetResourceSpans())
	} else {
		b = ingest.NewBatch(h.c)
		dec := newWireDecoder(b)
		// The spans' memory goes back to the decoder only if the consumer said it let go of them; the answer
		// below needs only the counts and the reason, a string.
		defer func() { dec.release(ingest.Released(b)) }()
		if d, err = dec.decode(body); err != nil {
			return err
		}
	}
	h.o.Metrics.Rejected(ReceiverHTTP, ingest.ReasonBadInput, int(d.rejected))
	if err := ingest.DeliverBatch(ctx, h.c, h.o, ReceiverHTTP, d.spans, b); err != nil {
		return err
	}
	resp := response(d)
	var out []byte
	if isJSON {
		w.Header().Set("Content-Type", contentJSON)
		out, err = protojson.Marshal(resp)
	} else {
		w.Header().Set("Content-Type", contentProtobuf)
		out, err = proto.Marshal(resp)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return nil
}

// UnmarshalProto decodes an ExportTraceServiceRequest from protobuf, turning a decoding error into a
// *ingest.BadInputError.
func UnmarshalProto(b []byte, req *coltracepb.ExportTraceServiceRequest) error {
	if err := proto.Unmarshal(b, req); err != nil {
		return &ingest.BadInputError{Protocol: "otlp", Msg: "body is not a valid ExportTraceServiceRequest in protobuf: " + err.Error()}
	}
	return nil
}

func response(d decoded) *coltracepb.ExportTraceServiceResponse {
	resp := &coltracepb.ExportTraceServiceResponse{}
	if d.rejected > 0 {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: d.rejected, ErrorMessage: d.reason}
	}
	return resp
}

// writeStatus answers an error as OTLP/HTTP asks: a google.rpc.Status in the request's encoding.
func writeStatus(w http.ResponseWriter, isJSON bool, code int, msg string) {
	st := &spb.Status{Code: int32(grpcCodeForHTTP(code)), Message: msg}
	var b []byte
	if isJSON {
		w.Header().Set("Content-Type", contentJSON)
		b, _ = protojson.Marshal(st)
	} else {
		w.Header().Set("Content-Type", contentProtobuf)
		b, _ = proto.Marshal(st)
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func grpcCodeForHTTP(code int) int {
	switch code {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return 3 // InvalidArgument
	case http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
		return 8 // ResourceExhausted
	}
	return 13 // Internal
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return "\"" + s + "\""
}
