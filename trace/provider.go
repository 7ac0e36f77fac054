package trace

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Provider. The zero value works: every trace sampled, spans recorded and, with no
// Exporter, thrown away at End.
type Config struct {
	// Resource describes the process; nil means a resource whose service is "unknown_service".
	Resource *Resource
	// Sampler decides which traces are recorded; nil means follow a remote parent's decision and sample every
	// new trace (trace/sample has the others).
	Sampler Sampler
	// Exporter receives ended spans in batches, from a background goroutine; nil exports nothing.
	Exporter Exporter

	// QueueSize bounds the spans waiting for export; when it is full, ended spans are dropped and counted.
	// Default 8192.
	QueueSize int
	// BatchSize is the most spans given to one ExportSpans call. Default 512.
	BatchSize int
	// BatchTimeout is the longest an ended span waits before its batch is sent. Default 1s.
	BatchTimeout time.Duration
	// ExportTimeout bounds each ExportSpans call. Default 10s.
	ExportTimeout time.Duration

	// MaxAttrs, MaxEvents and MaxLinks limit what one span keeps; more are dropped and counted in the span.
	// Default 128 each.
	MaxAttrs, MaxEvents, MaxLinks int
}

// Provider makes Tracers and owns what they share: the resource, the sampler, the span pool, the process
// counters and the batcher that hands ended spans to the exporter.
type Provider struct {
	resource *Resource
	sampler  Sampler
	unitary  UnitarySampler // the sampler, if it can keep unitary spans
	batcher  *batcher       // nil without an exporter
	limits   struct{ attrs, events, links int }
	pool     sync.Pool // spans not handed back to a P
	ps       []perP
	sharedMu sync.Mutex
	shared   perP    // the counters of Ps beyond len(ps) (GOMAXPROCS grew), under sharedMu
	tracer   *Tracer // the scope-less tracer of the package-level Start
}

// NewProvider makes a Provider and, if cfg has an Exporter, starts its batcher.
func NewProvider(cfg Config) *Provider {
	p := &Provider{resource: cfg.Resource, sampler: cfg.Sampler}
	if p.resource == nil {
		p.resource = &Resource{Service: "unknown_service"}
	}
	if p.sampler == nil {
		p.sampler = parentOrAlways{}
	}
	p.unitary, _ = p.sampler.(UnitarySampler)
	p.limits.attrs = orDefault(cfg.MaxAttrs, 128)
	p.limits.events = orDefault(cfg.MaxEvents, 128)
	p.limits.links = orDefault(cfg.MaxLinks, 128)
	p.ps = newPerP(numP(), orDefault(cfg.QueueSize, 8192))
	p.pool.New = func() any {
		s := new(Span)
		s.data.Attrs = s.attrBuf[:0]
		return s
	}
	p.tracer = &Tracer{p: p}
	if cfg.Exporter != nil {
		p.batcher = newBatcher(p, cfg.Exporter, orDefault(cfg.BatchSize, 512),
			orDefaultDuration(cfg.BatchTimeout, time.Second), orDefaultDuration(cfg.ExportTimeout, 10*time.Second))
	}
	return p
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

func orDefaultDuration(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}

// Tracer returns a Tracer whose spans name scope as their instrumentation scope. Keep it; each call allocates.
func (p *Provider) Tracer(scope string) *Tracer { return &Tracer{p: p, scope: scope} }

// Resource returns the provider's resource.
func (p *Provider) Resource() *Resource { return p.resource }

// Sampler returns the provider's sampler.
func (p *Provider) Sampler() Sampler { return p.sampler }

// Flush sends every span ended so far to the exporter and waits for that, or for ctx to end.
func (p *Provider) Flush(ctx context.Context) error {
	if p.batcher == nil {
		return nil
	}
	return p.batcher.flush(ctx)
}

// Shutdown flushes, stops the batcher and shuts the exporter down, within ctx's deadline. Spans that end
// afterwards are dropped and counted.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.batcher == nil {
		return nil
	}
	return p.batcher.shutdown(ctx)
}

// get takes a span to record: one exported earlier from this P's ring, else one from the pool, and counts it as
// started. It also takes, while pinned to the P, the node for the span's context from the P's slab (nil if that
// slab is used up) and the span's ID.
func (p *Provider) get() (*Span, *node, SpanID) {
	var s *Span
	var nd *node
	var id SpanID
	pid := procPin()
	if pid < len(p.ps) {
		pp := &p.ps[pid]
		s = pp.queue.take()
		pp.recorded.Add(1)
		id = pp.ids.next()
		nd = nodes.TakePinned(pid)
		procUnpin()
	} else {
		procUnpin()
		p.count(countRecorded)
		id = newSpanID()
	}
	if s == nil {
		s = p.pool.Get().(*Span)
	}
	s.reset()
	if s.p != p {
		s.p = p
	}
	return s, nd, id
}

// release returns a span to the pool once nothing of the library refers to it. It does not touch the span's
// memory: the batcher releases spans from another CPU, and the span is cleared by the goroutine that reuses it,
// whose cache it is more likely to be in.
func (p *Provider) release(s *Span) { p.pool.Put(s) }

// reset clears a span for reuse, keeping the capacity of its slices (up to a limit, so that one huge span does
// not make every pooled span huge). It leaves Name, Resource, Scope and TraceState, which Start always sets, and
// s.unit, s.tr and s.lane, which Start sets only if they differ, and writes only what is not zero already: a
// reused span has usually left the CPU's cache, and while the garbage collector marks, every pointer written
// costs a write barrier. The fields beyond Counters are cleared only if the span's last life wrote one (cold).
// The unit itself is never reset: contexts and children may still record on it. End cleared the live key;
// Start sets the new life's, from its new span ID.
func (s *Span) reset() {
	d := &s.data
	if len(d.Attrs) > 0 || cap(d.Attrs) > 64 {
		clear(d.Attrs)
		d.Attrs = d.Attrs[:0]
		if cap(d.Attrs) > 64 {
			d.Attrs = s.attrBuf[:0]
		}
	} else if d.Attrs == nil { // a new span
		d.Attrs = s.attrBuf[:0]
	}
	if s.cold {
		s.resetCold()
	}
	d.TraceID, d.SpanID, d.ParentID = TraceID{}, SpanID{}, SpanID{}
	d.Kind, d.StatusCode, d.Flags, d.Priority, d.Unitary = 0, 0, 0, 0, false
	d.StartSeq, d.EndSeq, d.Start, d.End, d.Unit = 0, 0, 0, 0, 0
	d.Counters = SpanCounters{}
	s.st.reopen()
}

// resetCold clears the fields of a span's data beyond Counters (see reset).
func (s *Span) resetCold() {
	d := &s.data
	if len(d.Events) > 0 || cap(d.Events) > 32 {
		// Only the events' attributes are cleared (they may hold large values), and only when an event had
		// some (eventAttrs): addEventLive writes every other field of an event it reuses, and clearing the name
		// too cost a write barrier per event while the collector marks, and reading each event a cache miss (a
		// span that sent 16 requests spent more on its reset than on its start).
		for i := range d.Events {
			if !s.eventAttrs {
				break
			}
			if e := &d.Events[i]; len(e.Attrs) > 0 {
				clear(e.Attrs)
				e.Attrs = e.Attrs[:0]
			}
		}
		d.Events = d.Events[:0]
		if cap(d.Events) > 32 {
			d.Events = nil
		}
	}
	s.eventAttrs = false
	if len(d.Links) > 0 || cap(d.Links) > 32 {
		clear(d.Links)
		d.Links = d.Links[:0]
		if cap(d.Links) > 32 {
			d.Links = nil
		}
	}
	if d.StatusMessage != "" {
		d.StatusMessage = ""
	}
	if d.Service != "" {
		d.Service = ""
	}
	if d.SpanResource != "" {
		d.SpanResource = ""
	}
	if d.SpanType != "" {
		d.SpanType = ""
	}
	d.EndUnit, d.StartCause = 0, EventRef{}
	d.DroppedAttrs, d.DroppedEvents, d.DroppedLinks = 0, 0, 0
	s.cold = false
}

// finish takes an ended span: keep it for export, or let it go.
func (p *Provider) finish(s *Span) {
	if s.tr.candidate {
		if !p.unitary.KeepUnitary(&s.data) {
			p.count(countEnded)
			p.release(s)
			return
		}
		s.data.Unitary = true
		p.count(countUnitary)
	}
	if p.batcher == nil {
		p.count(countEnded)
		p.release(s)
		return
	}
	if !p.batcher.enqueue(s) { // which counts the span ended, and dropped if it was
		p.release(s)
	}
}

func countRecorded(pp *perP)   { pp.recorded.Add(1) }
func countUnrecorded(pp *perP) { pp.unrecorded.Add(1) }
func countEnded(pp *perP)      { pp.ended.Add(1) }
func countUnitary(pp *perP)    { pp.unitary.Add(1) }
func countEndedDropped(pp *perP) {
	pp.ended.Add(1)
	pp.dropped.Add(1)
}
func countCandidate(pp *perP) { pp.candidates.Add(1) }

// countDropped moves a span the sampler refused from recorded to unrecorded.
func countDropped(pp *perP) {
	pp.recorded.Add(^uint64(0))
	pp.unrecorded.Add(1)
}

// count applies f to this P's counters, or, on a P beyond those counted when the provider was made (GOMAXPROCS
// grew), to the shared ones under their lock.
func (p *Provider) count(f func(*perP)) {
	pid := procPin()
	if pid < len(p.ps) {
		f(&p.ps[pid])
		procUnpin()
		return
	}
	procUnpin()
	p.sharedMu.Lock()
	f(&p.shared)
	p.sharedMu.Unlock()
}

var defaultProvider atomic.Pointer[Provider]

// Default returns the provider that the package-level Start uses: the one given to SetDefault, or else a
// provider made from a zero Config (which exports nothing).
func Default() *Provider {
	if p := defaultProvider.Load(); p != nil {
		return p
	}
	defaultProvider.CompareAndSwap(nil, NewProvider(Config{}))
	return defaultProvider.Load()
}

// SetDefault makes p the provider of the package-level Start.
func SetDefault(p *Provider) { defaultProvider.Store(p) }
