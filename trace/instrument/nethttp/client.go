package nethttp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

// The span events Transport records from net/http/httptrace.
const (
	EventDNSStart     = "http.dns.start"
	EventDNSDone      = "http.dns.done"
	EventConnectStart = "http.connect.start"
	EventConnectDone  = "http.connect.done"
	EventTLSStart     = "http.tls.start"
	EventTLSDone      = "http.tls.done"
	EventGotConn      = "http.conn"
	EventWroteRequest = "http.request.written"
	EventFirstByte    = "http.response.first_byte"

	// AttrFirstByte is the time from the request's start to the first response byte, in microseconds, for a
	// server that named no reply event.
	AttrFirstByte = "http.response.first_byte_us"
)

var errNilRequest = errors.New("nethttp: nil request")

type transport struct {
	base   http.RoundTripper
	tracer *trace.Tracer
	prop   propagation.Propagator
	svc    string
	name   string // "<METHOD> <service>" for GET when Service is set
}

// Transport wraps base (nil: http.DefaultTransport) with a client span per request, named after the method, and
// the peer's service when Options.Service names it ("GET taster").
// It injects the context into a copy of the request with the configured propagator (which records the weft.send
// event the server's span will name as its cause), records DNS lookup, connect, TLS handshake, the connection
// (and whether it was reused), the request written and the first response byte as span events, counts the bytes
// sent and received as weft.bytes.out and weft.bytes.in, and ends the span when the response body is read to
// its end or closed. A status of 400 or more, or a transport error, makes the span an error.
func Transport(base http.RoundTripper, o Options) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, tracer: o.tracer(), prop: o.propagator(), svc: o.Service, name: "GET " + o.Service}
}

// Client returns a copy of c (nil: a zero http.Client) whose transport is wrapped by Transport.
func Client(c *http.Client, o Options) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	cc.Transport = Transport(cc.Transport, o)
	return &cc
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		// http.Transport panics on a nil request; a tracer should not be where a program crashes.
		return nil, errNilRequest
	}
	if req.URL == nil {
		return t.base.RoundTrip(req)
	}
	orig := req.Context()
	host := req.URL.Host
	opts := [4]trace.StartOption{trace.WithKind(trace.KindClient), trace.WithType("http"),
		trace.WithAttrs(trace.String(AttrMethod, req.Method), trace.String(AttrServerAddr, host), trace.String(AttrURLPath, req.URL.Path))}
	n := 3
	if t.svc != "" {
		opts[n] = trace.WithAttrs(trace.String("peer.service", t.svc))
		n++
	}
	name := methodName(req.Method)
	if t.svc != "" {
		if name == "GET" {
			name = t.name
		} else {
			name += " " + t.svc
		}
	}
	ctx, span := t.tracer.Start(orig, name, opts[:n]...)
	if span == nil {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return t.base.RoundTrip(req)
		}
		// Not sampled: propagate the decision all the same.
		r2 := req.Clone(ctx)
		t.prop.Inject(ctx, propagation.HeaderCarrier(r2.Header))
		return t.base.RoundTrip(r2)
	}
	st := &clientState{span: span, start: time.Now()}
	// The request carries the caller's context with the client trace; the span's context is only for injecting.
	r2 := req.Clone(httptrace.WithClientTrace(orig, st.clientTrace()))
	if r2.Header == nil {
		r2.Header = make(http.Header)
	}
	t.prop.Inject(ctx, propagation.HeaderCarrier(r2.Header))
	if r2.Body != nil && r2.Body != http.NoBody {
		r2.Body = &sentBody{rc: r2.Body, st: st}
	}
	resp, err := t.base.RoundTrip(r2)
	if err != nil {
		st.end(err, 0)
		return resp, err
	}
	if resp == nil {
		st.end(nil, 0)
		return resp, err
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		st.received(ctx, resp.Header.Get(HeaderReply))
		// A 101 body is the connection itself (an io.ReadWriteCloser): hand it over untouched.
		st.end(nil, resp.StatusCode)
		return resp, nil
	}
	st.received(ctx, resp.Header.Get(HeaderReply))
	st.setStatus(resp.StatusCode)
	resp.Body = &receivedBody{rc: resp.Body, st: st}
	return resp, nil
}

// clientState is a request's span and whether it has ended: the httptrace hooks and the body wrappers may run on
// other goroutines, and after the span ends (a request body still being written when the response came back);
// none of them touches the span once it has ended.
type clientState struct {
	mu        sync.Mutex
	span      *trace.Span
	status    int
	ended     bool
	start     time.Time
	firstByte time.Time
}

// received records the response's arrival: a weft.receive event naming the server's reply event when the server
// named one in HeaderReply, else the time to the first byte as the attribute http.response.first_byte_us. (Without
// a reply event to name, an event of the first byte would stand between the request's send and the span's end on
// the caller's unit, and the critical path would take it, not the server's work, as what the caller waited for.)
func (s *clientState) received(ctx context.Context, reply string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if reply != "" {
		if id, err := trace.ParseEventID(reply); err == nil {
			s.span.AddCausalEvent(ctx, trace.EventReceive, trace.EventRef{EventID: id}, trace.Bool(EventFirstByte, true))
			return
		}
	}
	if !s.firstByte.IsZero() {
		s.span.SetAttrs(trace.Int64(AttrFirstByte, int64(s.firstByte.Sub(s.start)/time.Microsecond)))
	}
}

func (s *clientState) event(name string, attrs ...trace.Attr) {
	s.mu.Lock()
	if !s.ended {
		s.span.AddEvent(name, attrs...)
	}
	s.mu.Unlock()
}

func (s *clientState) bytesOut(n int) {
	s.mu.Lock()
	if !s.ended && n > 0 {
		s.span.AddBytesOut(int64(n))
	}
	s.mu.Unlock()
}

func (s *clientState) bytesIn(n int) {
	s.mu.Lock()
	if !s.ended && n > 0 {
		s.span.AddBytesIn(int64(n))
	}
	s.mu.Unlock()
}

func (s *clientState) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

func (s *clientState) end(err error, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	if code == 0 {
		code = s.status
	}
	if code != 0 {
		s.span.SetAttrs(trace.Int(AttrStatusCode, code))
		if code >= 400 {
			s.span.SetStatus(trace.StatusError, http.StatusText(code))
		}
	}
	if err != nil {
		s.span.RecordError(err)
	}
	s.span.End()
}

func (s *clientState) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(i httptrace.DNSStartInfo) { s.event(EventDNSStart, trace.String("net.host.name", i.Host)) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			addrs := make([]string, len(i.Addrs))
			for k, a := range i.Addrs {
				addrs[k] = a.String()
			}
			if i.Err != nil {
				s.event(EventDNSDone, trace.Strings(AttrDNSAddrs, addrs), trace.String("error", i.Err.Error()))
				return
			}
			s.event(EventDNSDone, trace.Strings(AttrDNSAddrs, addrs))
		},
		ConnectStart: func(network, addr string) { s.event(EventConnectStart, trace.String(AttrNetPeerAddr, addr)) },
		ConnectDone: func(network, addr string, err error) {
			if err != nil {
				s.event(EventConnectDone, trace.String(AttrNetPeerAddr, addr), trace.String("error", err.Error()))
				return
			}
			s.event(EventConnectDone, trace.String(AttrNetPeerAddr, addr))
		},
		TLSHandshakeStart: func() { s.event(EventTLSStart) },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			if err != nil {
				s.event(EventTLSDone, trace.String("error", err.Error()))
				return
			}
			s.event(EventTLSDone, trace.String("tls.version", tls.VersionName(cs.Version)))
		},
		GotConn: func(i httptrace.GotConnInfo) {
			s.event(EventGotConn, trace.Bool(AttrConnReused, i.Reused), trace.Bool("http.connection.was_idle", i.WasIdle))
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err != nil {
				s.event(EventWroteRequest, trace.String("error", i.Err.Error()))
				return
			}
			s.event(EventWroteRequest)
		},
		GotFirstResponseByte: func() {
			s.mu.Lock()
			s.firstByte = time.Now()
			s.mu.Unlock()
		},
	}
}

// sentBody counts the request body's bytes as they are written.
type sentBody struct {
	rc io.ReadCloser
	st *clientState
}

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.st.bytesOut(n)
	return n, err
}

func (b *sentBody) Close() error { return b.rc.Close() }

// receivedBody counts the response body's bytes and ends the span at its end or when it is closed.
type receivedBody struct {
	rc io.ReadCloser
	st *clientState
}

func (b *receivedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.st.bytesIn(n)
	if err == io.EOF {
		b.st.end(nil, 0)
	} else if err != nil {
		b.st.end(err, 0)
	}
	return n, err
}

func (b *receivedBody) Close() error {
	err := b.rc.Close()
	b.st.end(nil, 0)
	return err
}
