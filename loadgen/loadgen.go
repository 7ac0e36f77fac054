// Package loadgen sends realistic OTLP/HTTP protobuf load to a weft (or any OTLP receiver) at a set rate and
// reports the spans per second accepted and the request latency. It is how the ingest target is measured, with
// the generator on the same machine as the server, so it is built to cost little: batches are encoded once as
// templates, and every send copies a template and writes fresh trace IDs and current timestamps into it. Result
// says what the generator itself cost in CPU per span, so that a run on a shared machine can be read as the
// server's cost.
package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Options says what load to send.
type Options struct {
	Endpoint      string        // the OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces
	Rate          int           // spans per second to offer; 0 sends as fast as the server accepts
	Duration      time.Duration // how long to send
	Concurrency   int           // requests in flight at once
	SpansPerBatch int           // spans per request (whole traces, so roughly)
	Templates     int           // distinct batches encoded up front
	Token         string        // bearer token, if the server wants one
	// Backoff is how long a worker waits after a 429 before sending again; 0 waits as long as the answer's
	// Retry-After says (at most 5 s), as OTLP exporters do. A short one keeps a saturated server busy for a
	// measurement of its capacity without flooding it with requests it must refuse.
	Backoff time.Duration
	Seed    uint64
}

// Result is what a run measured.
type Result struct {
	Elapsed        time.Duration
	SpansSent      int64
	SpansAccepted  int64
	Requests       int64
	Rejected       int64 // requests answered with an error status (429 counted apart)
	Throttled      int64 // requests answered 429 (the sender then waits as long as Retry-After says)
	LatencyP50     time.Duration
	LatencyP99     time.Duration
	BytesSent      int64
	AcceptedPerSec float64
	// CPU is the CPU time (user and system) this process used during the run: the load generator's own cost when
	// it runs as its own process (weft loadgen), 0 where the system does not say.
	CPU time.Duration
}

func (r Result) String() string {
	s := fmt.Sprintf("%d spans accepted in %s: %.0f spans/s; %d requests (%d rejected, %d throttled), latency p50 %s p99 %s, %.1f MB sent",
		r.SpansAccepted, r.Elapsed.Round(time.Millisecond), r.AcceptedPerSec, r.Requests, r.Rejected, r.Throttled,
		r.LatencyP50.Round(10*time.Microsecond), r.LatencyP99.Round(10*time.Microsecond), float64(r.BytesSent)/1e6)
	if r.CPU > 0 && r.SpansSent > 0 {
		s += fmt.Sprintf("; load generator CPU %s (%.2f µs per span sent)", r.CPU.Round(time.Millisecond),
			float64(r.CPU.Nanoseconds())/1e3/float64(r.SpansSent))
	}
	return s
}

// template is one encoded request with the byte offsets of each trace's IDs and of every timestamp, so that copies
// can be given new traces at the current time without encoding anything.
type template struct {
	body    []byte
	spans   int
	idSpans [][]int // per trace: offsets of every occurrence of its trace ID
	times   []int   // offsets of the fixed64 start and end times of every span
	built   int64   // the Unix nanoseconds the times are relative to
}

// fill makes buf a copy of the template with fresh trace IDs from rng and its times moved by now - t.built.
func (t *template) fill(buf []byte, rng *rand.Rand, now int64) []byte {
	buf = append(buf[:0], t.body...)
	var id [16]byte
	for _, offs := range t.idSpans {
		binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rng.Uint64()|1)
		for _, off := range offs {
			copy(buf[off:off+16], id[:])
		}
	}
	delta := uint64(now - t.built)
	for _, off := range t.times {
		binary.LittleEndian.PutUint64(buf[off:], binary.LittleEndian.Uint64(buf[off:])+delta)
	}
	return buf
}

// Run sends load until opts.Duration passes or ctx ends.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.SpansPerBatch <= 0 {
		o.SpansPerBatch = 1000
	}
	if o.Templates <= 0 {
		o.Templates = 32
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	tmpls := make([]template, o.Templates)
	for i := range tmpls {
		t, err := buildTemplate(rng, o.SpansPerBatch)
		if err != nil {
			return Result{}, err
		}
		tmpls[i] = t
	}

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency * 2, WriteBufferSize: 1 << 20}, Timeout: 30 * time.Second}

	var res Result
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	cpu0 := processCPU()
	var wg sync.WaitGroup
	var seq atomic.Uint64
	// Pacing at o.Rate: each request is due when the spans offered before it are, counted from start; a worker
	// sleeps until its request is due. One timer per worker, no ticker: an idle generator costs nothing.
	var offered atomic.Int64
	due := func(spans int) time.Time {
		before := offered.Add(int64(spans)) - int64(spans)
		return start.Add(time.Duration(float64(before) / float64(o.Rate) * float64(time.Second)))
	}
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(o.Seed+uint64(w)+1, 7))
			var buf []byte
			var mine []time.Duration
			timer := time.NewTimer(0)
			defer timer.Stop()
			for ctx.Err() == nil {
				t := &tmpls[seq.Add(1)%uint64(len(tmpls))]
				if o.Rate > 0 {
					if wait := time.Until(due(t.spans)); wait > 0 {
						timer.Reset(wait)
						select {
						case <-timer.C:
						case <-ctx.Done():
							continue
						}
					}
				}
				buf = t.fill(buf, wr, time.Now().UnixNano())
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Endpoint, bytes.NewReader(buf))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/x-protobuf")
				if o.Token != "" {
					req.Header.Set("Authorization", "Bearer "+o.Token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						atomic.AddInt64(&res.Rejected, 1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				atomic.AddInt64(&res.Requests, 1)
				atomic.AddInt64(&res.SpansSent, int64(t.spans))
				atomic.AddInt64(&res.BytesSent, int64(len(buf)))
				switch {
				case resp.StatusCode == http.StatusOK:
					atomic.AddInt64(&res.SpansAccepted, int64(t.spans))
					mine = append(mine, d)
				case resp.StatusCode == http.StatusTooManyRequests:
					atomic.AddInt64(&res.Throttled, 1)
					// As OTLP exporters do, wait as long as the server asks before sending again: resending at
					// once would spend both sides' CPU on requests that are refused.
					wait := o.Backoff
					if wait <= 0 {
						wait = retryAfter(resp.Header.Get("Retry-After"))
					}
					if wait > 0 {
						timer.Reset(wait)
						select {
						case <-timer.C:
						case <-ctx.Done():
						}
					}
				default:
					atomic.AddInt64(&res.Rejected, 1)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if cpu := processCPU(); cpu > 0 {
		res.CPU = cpu - cpu0
	}
	res.AcceptedPerSec = float64(res.SpansAccepted) / res.Elapsed.Seconds()
	if len(lat) > 0 {
		slices.Sort(lat)
		res.LatencyP50 = lat[len(lat)/2]
		res.LatencyP99 = lat[len(lat)*99/100]
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("no request reached %s", o.Endpoint)
	}
	return res, nil
}

// retryAfter reads a Retry-After header given in seconds, at most 5 s; 0 when absent or not a number.
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(h)
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, 5*time.Second)
}

// Batch is one request body as Run sends it (about n spans in whole traces, encoded as OTLP protobuf) and its
// number of spans, for benchmarks of the receiving side that want the load generator's exact shape.
func Batch(seed uint64, n int) (body []byte, spans int, err error) {
	t, err := buildTemplate(rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), n)
	return t.body, t.spans, err
}

// Realistic names and cardinalities: a dozen services, a handful of operations each, attributes with low
// (method, status, region), medium (route, version) and high (user id) cardinality.
var (
	services = []string{"frontend", "checkout", "cart", "payment", "shipping", "catalog", "recommendation",
		"currency", "email", "ad", "auth", "inventory"}
	operations = []string{"GET /api/products/{id}", "POST /api/cart", "GET /api/cart", "POST /api/checkout",
		"SELECT products", "redis GET", "grpc.Charge", "grpc.GetQuote", "kafka.publish orders", "render",
		"GET /api/recommendations", "validate", "POST /api/login"}
	methods  = []string{"GET", "POST", "PUT", "DELETE"}
	statuses = []int64{200, 200, 200, 200, 201, 204, 400, 404, 500, 503}
	regions  = []string{"eu-west-1", "us-east-1", "us-west-2", "ap-south-1"}
	versions = []string{"1.4.2", "1.4.3", "1.5.0"}
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func num(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// buildTemplate encodes one request of about n spans in whole traces of 5 to 50 spans.
func buildTemplate(rng *rand.Rand, n int) (template, error) {
	byService := map[string]*tracepb.ScopeSpans{}
	now := time.Now().UnixNano()
	total := 0
	for total < n {
		size := 5 + rng.IntN(46)
		tid := make([]byte, 16)
		for i := range tid {
			tid[i] = byte(rng.UintN(256))
		}
		tid[15] |= 1
		start := now - int64(rng.IntN(int(time.Minute)))
		var ids [][]byte
		for i := 0; i < size; i++ {
			sid := make([]byte, 8)
			binary.LittleEndian.PutUint64(sid, rng.Uint64()|1)
			var parent []byte
			if i > 0 {
				parent = ids[rng.IntN(len(ids))]
			}
			ids = append(ids, sid)
			svc := services[rng.IntN(len(services))]
			if i == 0 {
				svc = "frontend"
			}
			dur := int64(50_000 + rng.IntN(200_000_000))
			sp := &tracepb.Span{
				TraceId: tid, SpanId: sid, ParentSpanId: parent,
				Name:              operations[rng.IntN(len(operations))],
				Kind:              tracepb.Span_SpanKind(1 + rng.IntN(3)),
				StartTimeUnixNano: uint64(start + int64(i)*1000),
				EndTimeUnixNano:   uint64(start + int64(i)*1000 + dur),
				Attributes: []*commonpb.KeyValue{
					str("http.request.method", methods[rng.IntN(len(methods))]),
					str("http.route", operations[rng.IntN(len(operations))]),
					num("http.response.status_code", statuses[rng.IntN(len(statuses))]),
					str("user.id", fmt.Sprintf("user-%d", rng.IntN(10000))),
					str("cloud.region", regions[rng.IntN(len(regions))]),
					str("service.version", versions[rng.IntN(len(versions))]),
					num("net.peer.port", int64(1024+rng.IntN(60000))),
					str("net.peer.name", fmt.Sprintf("10.0.%d.%d", rng.IntN(4), rng.IntN(256))),
					str("db.system", []string{"postgresql", "redis", "none"}[rng.IntN(3)]),
					num("app.items", int64(rng.IntN(20))),
				},
			}
			if rng.IntN(50) == 0 {
				sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "upstream unavailable"}
			}
			ss := byService[svc]
			if ss == nil {
				ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "loadgen"}}
				byService[svc] = ss
			}
			ss.Spans = append(ss.Spans, sp)
		}
		total += size
	}
	req := &collectorpb.ExportTraceServiceRequest{}
	for _, svc := range services {
		if ss := byService[svc]; ss != nil {
			req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
				Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", svc), str("host.name", "host-"+svc)}},
				ScopeSpans: []*tracepb.ScopeSpans{ss},
			})
		}
	}
	body, err := proto.Marshal(req)
	if err != nil {
		return template{}, err
	}
	t := template{body: body, spans: total, built: now}
	if err := t.findFields(); err != nil {
		return template{}, err
	}
	return t, nil
}

// findFields walks the encoded request once and notes where each span's trace ID, start and end are.
func (t *template) findFields() error {
	byTrace := map[string]int{} // trace ID → index in t.idSpans
	// each calls f with the offset and contents of every field numbered num of the message at b[base:].
	each := func(b []byte, base int, num protowire.Number, f func(off int, v []byte)) error {
		for i := 0; i < len(b); {
			n, typ, tn := protowire.ConsumeTag(b[i:])
			if tn < 0 {
				return protowire.ParseError(tn)
			}
			vn := protowire.ConsumeFieldValue(n, typ, b[i+tn:])
			if vn < 0 {
				return protowire.ParseError(vn)
			}
			if n == num {
				v := b[i+tn : i+tn+vn]
				off := base + i + tn
				if typ == protowire.BytesType {
					data, ln := protowire.ConsumeBytes(v)
					off, v = off+ln-len(data), data
				}
				f(off, v)
			}
			i += tn + vn
		}
		return nil
	}
	var err error
	walk := func(num protowire.Number, next func(off int, v []byte)) func(int, []byte) {
		return func(off int, v []byte) {
			if e := each(v, off, num, next); e != nil && err == nil {
				err = e
			}
		}
	}
	span := func(off int, v []byte) {
		_ = each(v, off, 1, func(o int, id []byte) {
			k, ok := byTrace[string(id)]
			if !ok {
				k = len(t.idSpans)
				byTrace[string(id)] = k
				t.idSpans = append(t.idSpans, nil)
			}
			t.idSpans[k] = append(t.idSpans[k], o)
		})
		_ = each(v, off, 7, func(o int, _ []byte) { t.times = append(t.times, o) })
		_ = each(v, off, 8, func(o int, _ []byte) { t.times = append(t.times, o) })
	}
	walk(1, walk(2, walk(2, span)))(0, t.body) // request.resource_spans.scope_spans.spans
	if err == nil && len(t.times) != 2*t.spans {
		err = fmt.Errorf("loadgen: found %d span times in a template of %d spans", len(t.times), t.spans)
	}
	return err
}
