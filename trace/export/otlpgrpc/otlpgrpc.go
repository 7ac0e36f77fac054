// Package otlpgrpc is the library's OTLP/gRPC exporter: it sends batches of ended spans to an OTLP endpoint's
// TraceService/Export, such as weft serve's port 4317 or an OpenTelemetry Collector. It is its own module so that
// programs that export over HTTP never depend on gRPC. The request is encoded by trace/export/otlp and sent as
// raw bytes (a pass-through codec), so no protobuf message is built.
//
// Failed exports are retried with exponential backoff and jitter on the codes OTLP calls transient
// (UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, DATA_LOSS, and RESOURCE_EXHAUSTED when the
// server says when to retry), honouring the server's google.rpc.RetryInfo, never past the export's deadline.
//
// Importing the package registers it with trace/config for OTEL_EXPORTER_OTLP_PROTOCOL=grpc.
package otlpgrpc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/config"
	"github.com/weftrace/weft/trace/export/otlp"
	"github.com/weftrace/weft/trace/export/retry"
)

// DefaultEndpoint is where spans go when Config.Endpoint is empty.
const DefaultEndpoint = "http://localhost:4317"

const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// Config configures an Exporter. The zero value sends gzip-compressed requests to DefaultEndpoint without TLS.
type Config struct {
	// Endpoint is the server: "http://host:port" (no TLS), "https://host:port" (TLS), or "host:port" (no TLS
	// unless Insecure is false and TLS is given).
	Endpoint string
	// Headers are sent as gRPC metadata with every request.
	Headers map[string]string
	// Compression is "gzip" (the default) or "none".
	Compression string
	// TLS, when not nil, secures the connection; an https endpoint uses the system's roots when it is nil.
	TLS credentials.TransportCredentials
	// DialOptions are added to the connection's options (interceptors, a custom dialer).
	DialOptions []grpc.DialOption
	// Retry says how failed exports are retried.
	Retry retry.Policy
}

// Exporter sends spans over OTLP/gRPC. It implements trace.Exporter.
type Exporter struct {
	conn    *grpc.ClientConn
	md      metadata.MD
	callOpt []grpc.CallOption
	retry   retry.Policy

	mu     sync.Mutex // one export at a time: buf is reused
	buf    []byte
	closed bool
}

var _ trace.Exporter = (*Exporter)(nil)

// ErrShutdown is returned by ExportSpans after Shutdown.
var ErrShutdown = errors.New("otlpgrpc: exporter is shut down")

// New makes an Exporter. The connection is made lazily, at the first export.
func New(cfg Config) (*Exporter, error) {
	target, useTLS, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	creds := cfg.TLS
	if creds == nil {
		if useTLS {
			creds = credentials.NewClientTLSFromCert(nil, "")
		} else {
			creds = insecure.NewCredentials()
		}
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, cfg.DialOptions...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlpgrpc: %w", err)
	}
	e := &Exporter{conn: conn, retry: cfg.Retry, callOpt: []grpc.CallOption{grpc.ForceCodec(rawCodec{})}}
	switch cfg.Compression {
	case "", "gzip":
		e.callOpt = append(e.callOpt, grpc.UseCompressor(gzip.Name))
	case "none":
	default:
		conn.Close()
		return nil, fmt.Errorf("otlpgrpc: compression %q is not gzip or none", cfg.Compression)
	}
	if len(cfg.Headers) > 0 {
		e.md = metadata.New(cfg.Headers)
	}
	return e, nil
}

// parseEndpoint turns an endpoint into a gRPC target and whether TLS is asked for.
func parseEndpoint(ep string) (target string, useTLS bool, err error) {
	if ep == "" {
		ep = DefaultEndpoint
	}
	if !strings.Contains(ep, "://") {
		return ep, false, nil
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, fmt.Errorf("otlpgrpc: endpoint %q is not host:port or an http(s) URL", ep)
	}
	return u.Host, u.Scheme == "https", nil
}

// ExportSpans encodes spans and sends them, retrying as the Config says. A server that accepts the request but
// refuses some spans yields an otlp.PartialSuccess error, which is not retried.
func (e *Exporter) ExportSpans(ctx context.Context, spans []*trace.SpanData) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrShutdown
	}
	e.buf = otlp.AppendRequest(e.buf[:0], spans)
	if e.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, e.md)
	}
	return retry.Do(ctx, e.retry, func(ctx context.Context) error {
		var resp []byte
		err := e.conn.Invoke(ctx, exportMethod, e.buf, &resp, e.callOpt...)
		if err != nil {
			return classify(ctx, err)
		}
		if ps, err := otlp.ParseResponse(resp); err == nil && ps.RejectedSpans > 0 {
			return ps
		}
		return nil
	})
}

// classify marks the gRPC errors OTLP calls transient as retryable, with the server's RetryInfo delay.
func classify(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return retry.NetworkError(ctx, fmt.Errorf("otlpgrpc: %w", err))
	}
	err = fmt.Errorf("otlpgrpc: %w", err)
	var delay time.Duration
	hasDelay := false
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.RetryDelay != nil {
			delay, hasDelay = ri.RetryDelay.AsDuration(), true
		}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		if ctx.Err() != nil {
			return err // our own deadline, not the server's trouble
		}
		return retry.Retryable(err, delay)
	case codes.Unavailable, codes.Aborted, codes.OutOfRange, codes.DataLoss:
		return retry.Retryable(err, delay)
	case codes.ResourceExhausted:
		if hasDelay {
			return retry.Retryable(err, delay)
		}
	}
	return err
}

// Shutdown makes later exports fail with ErrShutdown and closes the connection, after an export in progress
// ends or ctx does.
func (e *Exporter) Shutdown(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.closed {
			done <- nil
			return
		}
		e.closed = true
		done <- e.conn.Close()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rawCodec passes bytes through: the request is already protobuf, and the response is kept as bytes. Its name
// is "proto", so that servers decode the messages as the protobuf they are.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("otlpgrpc: cannot send %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("otlpgrpc: cannot receive into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

func init() {
	config.RegisterExporter("grpc", func(s config.ExporterSettings) (trace.Exporter, error) {
		return New(Config{Endpoint: s.Endpoint, Headers: s.Headers, Compression: s.Compression})
	})
}
