package otlp

import (
	"context"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/weftrace/weft/ingest"
)

// RegisterGRPC registers OTLP's TraceService on s. Export decodes the request, refuses spans with invalid IDs
// (answered as partial_success), and delivers the rest to c; a consumer error answers ResourceExhausted with a
// RetryInfo detail on overload, InvalidArgument for bad input and Internal otherwise. The request size limit is
// a property of the server: create it with ServerOptions(o).
func RegisterGRPC(s *grpc.Server, c ingest.Consumer, o ingest.Options) {
	coltracepb.RegisterTraceServiceServer(s, &traceService{c: c, o: o})
}

// ServerOptions are the grpc.ServerOption that apply o to a gRPC server: the message size limit.
func ServerOptions(o ingest.Options) []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(int(o.Limit()))}
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c ingest.Consumer
	o ingest.Options
}

// Export takes one request.
func (t *traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	defer t.o.Metrics.Begin(ReceiverGRPC)()
	d := fromProto(req.GetResourceSpans())
	t.o.Metrics.Rejected(ReceiverGRPC, ingest.ReasonBadInput, int(d.rejected))
	err := ingest.Deliver(ctx, t.c, t.o, ReceiverGRPC, d.spans)
	t.o.Metrics.Request(ReceiverGRPC, err)
	if err != nil {
		return nil, ingest.GRPCError(err)
	}
	return response(d), nil
}
