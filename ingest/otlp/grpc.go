package otlp

import (
	"context"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/weftrace/weft/ingest"
)

// RegisterGRPC registers OTLP's TraceService on s. Export decodes the request with DecodeProto, refuses spans
// with invalid IDs (answered as partial_success), and delivers the rest to c; a payload that does not decode
// answers InvalidArgument, and a consumer error ResourceExhausted with a RetryInfo detail on overload,
// InvalidArgument for bad input and Internal otherwise. The request size limit is a property of the server:
// create it with ServerOptions(o).
func RegisterGRPC(s *grpc.Server, c ingest.Consumer, o ingest.Options) {
	s.RegisterService(&traceServiceDesc, &traceService{c: c, o: o})
}

// ServerOptions are the grpc.ServerOption that apply o to a gRPC server: the message size limit.
func ServerOptions(o ingest.Options) []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(int(o.Limit()))}
}

// exportMethod is the full name of TraceService/Export.
const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// traceServiceDesc is TraceService with Export taking the request's bytes rather than the generated type: the
// server's ordinary proto codec decodes the request into an Empty, which keeps every field as unknown bytes, and
// those bytes go through DecodeProto, 3-4x cheaper than the generated types. Clients see the standard service.
var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: coltracepb.TraceService_ServiceDesc.ServiceName,
	HandlerType: (*rawTraceServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler:    exportHandler,
	}},
	Metadata: coltracepb.TraceService_ServiceDesc.Metadata,
}

type rawTraceServer interface {
	export(ctx context.Context, body []byte) (*coltracepb.ExportTraceServiceResponse, error)
}

func exportHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(emptypb.Empty)
	if err := dec(in); err != nil {
		return nil, err
	}
	body := in.ProtoReflect().GetUnknown()
	if interceptor == nil {
		return srv.(rawTraceServer).export(ctx, body)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: exportMethod}
	return interceptor(ctx, in, info, func(ctx context.Context, _ any) (any, error) {
		return srv.(rawTraceServer).export(ctx, body)
	})
}

type traceService struct {
	c ingest.Consumer
	o ingest.Options
}

// export takes one request.
func (t *traceService) export(ctx context.Context, body []byte) (*coltracepb.ExportTraceServiceResponse, error) {
	defer t.o.Metrics.Begin(ReceiverGRPC)()
	t.o.Metrics.Bytes(ReceiverGRPC, len(body))
	var d decoded
	var b ingest.Batch
	err := t.o.Admission()
	if err == nil {
		b = ingest.NewBatch(t.c)
		dec := newWireDecoder(b)
		defer func() { dec.release(ingest.Released(b)) }() // as in the HTTP handler
		d, err = dec.decode(body)
	}
	if err == nil {
		t.o.Metrics.Rejected(ReceiverGRPC, ingest.ReasonBadInput, int(d.rejected))
		err = ingest.DeliverBatch(ctx, t.c, t.o, ReceiverGRPC, d.spans, b)
	}
	t.o.Metrics.Request(ReceiverGRPC, err)
	if err != nil {
		return nil, ingest.GRPCError(err)
	}
	return response(d), nil
}
