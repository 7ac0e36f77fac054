// Package nethttp traces net/http: Handler wraps a server's handler with a server span per request, and
// Transport wraps a client's RoundTripper with a client span per request. It sits where a program's HTTP traffic
// enters and leaves it: Handler extracts the caller's context with the configured propagator, so the server span
// continues the caller's trace and names the caller's send event as its cause; Transport injects the current
// context, which records that send event.
//
// Neither changes what the wrapped code returns, and neither panics on odd values (nil requests, nil or closed
// bodies): tracing is an observer.
package nethttp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

// Options configure Handler and Transport. The zero value uses the default provider and W3C propagation.
type Options struct {
	// Tracer starts the spans; nil means trace.Default().Tracer("weft/nethttp").
	Tracer *trace.Tracer
	// Propagator reads the caller's context (Handler) and writes it into requests (Transport); nil means
	// propagation.Default() (W3C trace context and baggage).
	Propagator propagation.Propagator
	// Service, when set, names the server span's own service (Handler) or the peer service (Transport).
	Service string
	// NoReplyEvent stops Handler recording the reply's send event and naming it in HeaderReply. Set it when the
	// server's spans are exported through a protocol that drops span event attributes (Zipkin): the caller
	// would wait on an event the trace does not hold.
	NoReplyEvent bool
	// TraceResponse makes Handler answer with a W3C traceresponse header naming the server span, so that a
	// caller (a test, a load generator) can find the trace its request made.
	TraceResponse bool
}

func (o *Options) tracer() *trace.Tracer {
	if o.Tracer != nil {
		return o.Tracer
	}
	return trace.Default().Tracer("weft/nethttp")
}

func (o *Options) propagator() propagation.Propagator {
	if o.Propagator != nil {
		return o.Propagator
	}
	return propagation.Default()
}

// HeaderReply is the response header in which Handler names the event that sent the reply
// ("<unit16hex>:<seq>", the weft.send event recorded on the server span just before the response header is
// written), when the request came from a weft-traced caller. Transport records the response's arrival as a
// weft.receive event naming it, so the event DAG holds the reply as exactly as the request, and the critical path
// of the caller runs through the server's work.
const HeaderReply = "Weft-Reply"

// Attribute keys, as OpenTelemetry's HTTP semantic conventions name them.
const (
	AttrMethod      = "http.request.method"
	AttrRoute       = "http.route"
	AttrStatusCode  = "http.response.status_code"
	AttrURLPath     = "url.path"
	AttrURLFull     = "url.full"
	AttrServerAddr  = "server.address"
	AttrConnReused  = "http.connection.reused"
	AttrDNSAddrs    = "net.dns.addresses"
	AttrNetPeerAddr = "network.peer.address"
)

type handler struct {
	next   http.Handler
	tracer *trace.Tracer
	prop   propagation.Propagator
	svc    string
	resp   bool
	reply  bool
	mux    *http.ServeMux // next, when it is a ServeMux: the route is known before the span starts
}

// Handler wraps next with a server span per request. The span is named "<METHOD> <route>" after the ServeMux
// pattern that served the request (the route is also the span's resource and its http.route), or "<METHOD>" when
// no pattern matched. When next is a *http.ServeMux the route is looked up before the span starts, so that
// samplers see http.route; otherwise it is read from r.Pattern, which a ServeMux inside next sets, at the end. It records the status code (5xx is an
// error), a panic in next as an error (and re-panics), and the request and response body sizes as the span's
// weft.bytes.in and weft.bytes.out counters.
func Handler(next http.Handler, o Options) http.Handler {
	h := &handler{next: next, tracer: o.tracer(), prop: o.propagator(), svc: o.Service, resp: o.TraceResponse, reply: !o.NoReplyEvent}
	h.mux, _ = next.(*http.ServeMux)
	return h
}

// HandlerFunc is Handler for a function.
func HandlerFunc(next http.HandlerFunc, o Options) http.Handler { return Handler(next, o) }

var writerPool = sync.Pool{New: func() any { return new(responseWriter) }}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	ctx := h.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	opts := [6]trace.StartOption{trace.WithKind(trace.KindServer), trace.WithType("http"),
		trace.WithAttrs(trace.String(AttrMethod, r.Method), trace.String(AttrURLPath, pathOf(r)))}
	n := 3
	if h.svc != "" {
		opts[n] = trace.WithService(h.svc)
		n++
	}
	name := methodName(r.Method)
	if h.mux != nil && r.URL != nil {
		// Find the route first, so that the sampler sees http.route (per-route sampling rules).
		if _, pattern := h.mux.Handler(r); pattern != "" {
			route := routeOf(pattern)
			name += " " + route
			opts[n] = trace.WithAttrs(trace.String(AttrRoute, route))
			opts[n+1] = trace.WithResource(route)
			n += 2
		}
	}
	sctx, span := h.tracer.Start(ctx, name, opts[:n]...)
	if span == nil {
		// Not sampled: the handler still gets the trace's context, so that its calls propagate the decision.
		h.next.ServeHTTP(w, r.WithContext(sctx))
		return
	}
	if h.resp {
		var buf [55]byte
		w.Header().Set("Traceresponse", string(propagation.AppendTraceparent(buf[:0], span.SpanContext())))
	}
	rw := writerPool.Get().(*responseWriter)
	rw.ResponseWriter, rw.status, rw.written, rw.wroteHeader, rw.span = w, 0, 0, false, nil
	if h.reply && trace.SpanContextFromContext(ctx).Cause.IsValid() {
		// The caller is weft-traced: tell it which event sent the reply (see HeaderReply).
		rw.span = span
	}
	var body *countingBody
	r2 := r.WithContext(sctx)
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{rc: r.Body}
		r2.Body = body
	}
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				span.SetStatus(trace.StatusError, "panic")
				span.AddEvent("exception", trace.String("exception.type", "panic"))
			}
			h.finish(span, r, r2, rw, body)
			panic(p)
		}
		h.finish(span, r, r2, rw, body)
	}()
	h.next.ServeHTTP(rw, r2)
}

func (h *handler) finish(span *trace.Span, r, r2 *http.Request, rw *responseWriter, body *countingBody) {
	pattern := r2.Pattern
	if pattern == "" {
		pattern = r.Pattern
	}
	if pattern != "" && h.mux == nil { // with a ServeMux, the route was set at the start
		route := routeOf(pattern)
		span.SetName(methodName(r.Method) + " " + route)
		span.SetResource(route)
		span.SetAttrs(trace.String(AttrRoute, route))
	}
	if !rw.wroteHeader {
		rw.reply() // the server writes the header once the handler returns
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	span.SetAttrs(trace.Int(AttrStatusCode, status))
	if status >= 500 {
		span.SetStatus(trace.StatusError, http.StatusText(status))
	}
	if body != nil {
		span.AddBytesIn(body.n())
	}
	span.AddBytesOut(rw.written)
	span.End()
	rw.ResponseWriter, rw.span = nil, nil
	writerPool.Put(rw)
}

// routeOf strips the method and host from a ServeMux pattern ("GET example.com/beers/{name}" → "/beers/{name}").
func routeOf(pattern string) string {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '/' {
			return pattern[i:]
		}
	}
	return pattern
}

func methodName(m string) string {
	switch m {
	case "", http.MethodGet:
		return "GET"
	case http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPatch, http.MethodOptions,
		http.MethodConnect, http.MethodTrace:
		return m
	}
	return "HTTP"
}

func pathOf(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	return r.URL.Path
}

// responseWriter records the status and counts the body written. It passes Flush and Hijack through and
// unwraps for http.ResponseController.
type responseWriter struct {
	http.ResponseWriter
	status      int
	written     int64
	wroteHeader bool
	span        *trace.Span // set when the reply's send event is to be recorded and named in HeaderReply
}

// reply records the reply's weft.send event and names it in the response header, once, before the header goes.
func (w *responseWriter) reply() {
	if w.span == nil {
		return
	}
	id := w.span.AddEvent(trace.EventSend)
	w.span = nil
	if id.IsValid() {
		var buf [40]byte
		w.ResponseWriter.Header().Set(HeaderReply, string(id.AppendText(buf[:0])))
	}
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.reply()
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.reply()
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's sendfile path for handlers that serve files.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.reply()
		w.status, w.wroteHeader = http.StatusOK, true
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.written += n
	return n, err
}

// Flush flushes if the underlying writer can.
func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over if the underlying writer can.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
		return hj.Hijack()
	}
	return nil, nil, errors.New("nethttp: the response writer does not support hijacking")
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the bytes read from a request body.
type countingBody struct {
	rc    io.ReadCloser
	mu    sync.Mutex
	count int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.count += int64(n)
	b.mu.Unlock()
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

func (b *countingBody) n() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count
}
