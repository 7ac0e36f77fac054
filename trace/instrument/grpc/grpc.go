// Package grpc traces gRPC: ClientHandler and ServerHandler are stats handlers (grpc.WithStatsHandler,
// grpc.StatsHandler) that make a client span per call made and a server span per call served, carry the trace
// context in the call's metadata with the configured propagator (so that the server span names the client's send
// event as its cause), and count the bytes of the messages sent and received. It is a module of its own so that
// the library does not depend on gRPC.
//
//	conn, err := grpc.NewClient(addr, grpc.WithStatsHandler(weftgrpc.ClientHandler(weftgrpc.Options{})), ...)
//	srv := grpc.NewServer(grpc.StatsHandler(weftgrpc.ServerHandler(weftgrpc.Options{})))
//
// Spans are named after the full method without its leading slash ("grpc.health.v1.Health/Check"). The handlers
// never change what a call returns.
package grpc

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

// Attribute keys, as OpenTelemetry's RPC semantic conventions name them.
const (
	AttrSystem     = "rpc.system"
	AttrService    = "rpc.service"
	AttrMethod     = "rpc.method"
	AttrStatusCode = "rpc.grpc.status_code"
)

// Options configure the handlers.
type Options struct {
	// Tracer starts the spans; nil means trace.Default().Tracer("weft/grpc").
	Tracer *trace.Tracer
	// Propagator writes the context into (client) and reads it from (server) the call's metadata; nil means
	// propagation.Default().
	Propagator propagation.Propagator
}

func (o Options) resolve() (*trace.Tracer, propagation.Propagator) {
	t, p := o.Tracer, o.Propagator
	if t == nil {
		t = trace.Default().Tracer("weft/grpc")
	}
	if p == nil {
		p = propagation.Default()
	}
	return t, p
}

type handler struct {
	t      *trace.Tracer
	prop   propagation.Propagator
	server bool
}

// ClientHandler returns the stats handler for a client connection.
func ClientHandler(o Options) stats.Handler {
	t, p := o.resolve()
	return &handler{t: t, prop: p}
}

// ServerHandler returns the stats handler for a server.
func ServerHandler(o Options) stats.Handler {
	t, p := o.resolve()
	return &handler{t: t, prop: p, server: true}
}

// call is a call's span, kept in the call's context under callKey, with whether it has ended (gRPC may report
// stats after the end).
type call struct {
	mu    sync.Mutex
	span  *trace.Span
	ended bool
}

type callKey struct{}

func (h *handler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if info == nil {
		return ctx
	}
	name := strings.TrimPrefix(info.FullMethodName, "/")
	svc, method, _ := strings.Cut(name, "/")
	attrs := trace.WithAttrs(trace.String(AttrSystem, "grpc"), trace.String(AttrService, svc), trace.String(AttrMethod, method))
	if h.server {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			ctx = h.prop.Extract(ctx, mdCarrier(md))
		}
		sctx, span := h.t.Start(ctx, name, trace.WithKind(trace.KindServer), trace.WithType("rpc"), trace.WithResource(name), attrs)
		if span == nil {
			return ctx
		}
		return context.WithValue(sctx, callKey{}, &call{span: span})
	}
	sctx, span := h.t.Start(ctx, name, trace.WithKind(trace.KindClient), trace.WithType("rpc"), trace.WithResource(name), attrs)
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	h.prop.Inject(sctx, mdCarrier(md))
	ctx = metadata.NewOutgoingContext(ctx, md)
	if span == nil {
		return ctx
	}
	return context.WithValue(ctx, callKey{}, &call{span: span})
}

func (h *handler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil || s == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	switch st := s.(type) {
	case *stats.InPayload:
		c.span.AddBytesIn(int64(st.WireLength))
	case *stats.OutPayload:
		c.span.AddBytesOut(int64(st.WireLength))
	case *stats.End:
		code := status.Code(st.Error)
		c.span.SetAttrs(trace.Int(AttrStatusCode, int(code)))
		if st.Error != nil {
			c.span.RecordError(st.Error, trace.String("rpc.grpc.status", code.String()))
		}
		c.ended = true
		c.span.End()
	}
}

func (h *handler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (h *handler) HandleConn(context.Context, stats.ConnStats) {}

// mdCarrier adapts gRPC metadata (lowercase keys) to a propagation.Carrier.
type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c mdCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }
