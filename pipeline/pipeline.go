// Package pipeline takes what the receivers decode and makes it durable: it is the ingest.Consumer that
// weft serve hands every request to. A request's spans are appended to the write-ahead log (package wal); once
// the append is durable the request may be acknowledged, and the spans go on, through an optional Stage (where
// tail sampling will sit), to the store. The pipeline also decides when the store's in-memory head becomes a
// block, and truncates the log once a block holds what the log held, so that a crash at any moment loses nothing
// acknowledged: what is not yet in a block is still in the log, and replays on the next start.
//
// Memory is bounded: spans being appended count against MaxInFlightBytes, spans in the store's head against
// MaxPendingSpans, and past either bound Consume answers *ingest.OverloadError with a retry hint.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/wal"
)

// Head is what a store with an in-memory head (the embedded store) offers so that the pipeline can cut it into
// blocks in step with the log. Stores that make every write durable themselves (ClickHouse) need not implement it.
type Head interface {
	// ShouldCut reports whether the head is big or old enough to seal.
	ShouldCut() bool
	// Seal cuts the head at this point of the stream; walSegment is the log segment just rotated to.
	Seal(walSegment int)
	// Flush writes sealed heads to blocks; after it returns nil, log segments below the last sealed walSegment
	// may be deleted.
	Flush() error
	// WALCheckpoint is the first log segment that may hold spans not in a block: replay starts there.
	WALCheckpoint() int
	// Pending is the number of spans held in memory, not yet in blocks.
	Pending() int
}

// RecordWriter is what a store offers that can keep spans in the form the log encoded them in (the embedded store
// builds its blocks from those records without encoding the spans again). The pipeline uses it when no Stage sits
// in between.
//
// WriteRecord keeps rec (which does not change afterwards) and nothing of spans: whatever it returns, once it has
// returned it holds no reference to the spans slice, a span, or anything a span points to (attributes, events,
// links, values, the resource), and will not use them again; strings read from the spans it may keep. The pipeline
// relies on that promise to tell receivers that they may reuse the spans' memory for their next request
// (ingest.ReleasingBatch): a store that keeps spans must not implement RecordWriter.
type RecordWriter interface {
	WriteRecord(ctx context.Context, spans []*model.Span, rec *wal.Record) error
}

// Stage wraps the writer that durable spans go to. Tail sampling will be one: it holds a trace's spans until it
// decides, then writes the kept ones to next. Receivers do not change when a stage is added.
type Stage func(next store.Writer) store.Writer

// Options configure a pipeline. The zero value gives the defaults.
type Options struct {
	// MaxInFlightBytes bounds the estimated memory of spans being appended to the log at once (default 256 MiB).
	MaxInFlightBytes int64
	// MaxPendingSpans bounds the spans held in the store's head and in sealed heads waiting for their block
	// (default 600,000); past it Consume answers overload until blocks catch up.
	MaxPendingSpans int
	// RetryAfter is the hint given with an overload answer (default 1 s).
	RetryAfter time.Duration
	// AdmitWait is how long Admit holds a request, not yet read, while MaxPendingSpans spans wait for their
	// blocks, before it answers overload (default 500 ms; negative: answer at once). A head is written in a
	// fraction of a second: a request held until it is lets the server go on at the speed of its writes, where
	// one refused at once leaves its client idle for the retry hint, and the server's processors with it.
	AdmitWait time.Duration
	// CutCheck is how often the store's head is checked for cutting (default 50 ms). It is cut when the store says
	// so (Head.ShouldCut) or when it holds a quarter of MaxPendingSpans. For a store without a head, the log is rotated
	// and truncated every CutCheck*200.
	CutCheck time.Duration
	// Stage, if set, sits between the log and the store.
	Stage  Stage
	Logger *slog.Logger
	// Registerer, if set, receives the pipeline's metrics: in-flight bytes, pending spans, overloads, cuts.
	Registerer prometheus.Registerer
}

// Pipeline is the durable ingest path. It implements ingest.Consumer.
type Pipeline struct {
	log   *wal.WAL
	store store.Store
	head  Head // nil when the store has none
	next  store.Writer
	recw  RecordWriter // the store, when it takes records and no Stage is set
	o     Options
	lg    *slog.Logger

	mu       sync.RWMutex // Consume holds it shared from log append to store write; a cut holds it alone
	closed   bool
	inflight atomic.Int64

	stop    chan struct{}
	done    chan struct{}
	flushMu sync.Mutex

	freedMu sync.Mutex
	freed   chan struct{} // closed, and replaced, each time a cut has written heads to blocks
	waiting atomic.Int64  // requests Admit holds

	m pipelineMetrics
}

var _ ingest.Consumer = (*Pipeline)(nil)

type pipelineMetrics struct {
	inflight  prometheus.GaugeFunc
	pending   prometheus.GaugeFunc
	waiting   prometheus.GaugeFunc
	overloads *prometheus.CounterVec
	cuts      prometheus.Counter
	replayed  prometheus.Counter
}

// New replays the log into the store (from the store's checkpoint when it has a head), then starts cutting the
// head into blocks in the background. The pipeline owns w from now on and closes it in Close; s stays the
// caller's to close, after the pipeline.
func New(w *wal.WAL, s store.Store, o Options) (*Pipeline, error) {
	if o.MaxInFlightBytes <= 0 {
		o.MaxInFlightBytes = 256 << 20
	}
	if o.MaxPendingSpans <= 0 {
		o.MaxPendingSpans = 600_000
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.CutCheck <= 0 {
		o.CutCheck = 50 * time.Millisecond
	}
	if o.AdmitWait == 0 {
		o.AdmitWait = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Pipeline{log: w, store: s, o: o, lg: o.Logger, next: s, stop: make(chan struct{}), done: make(chan struct{}),
		freed: make(chan struct{})}
	p.head, _ = s.(Head)
	if o.Stage != nil {
		p.next = o.Stage(s)
	} else {
		p.recw, _ = s.(RecordWriter)
	}
	p.m = pipelineMetrics{
		inflight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_pipeline_inflight_bytes",
			Help: "Estimated bytes of spans being appended to the write-ahead log."},
			func() float64 { return float64(p.inflight.Load()) }),
		pending: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_pipeline_pending_spans",
			Help: "Spans in the store's memory, not yet in blocks."},
			func() float64 {
				if p.head == nil {
					return 0
				}
				return float64(p.head.Pending())
			}),
		waiting: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_pipeline_admission_waiting",
			Help: "Requests held, unread, until heads are written to blocks and make room for them."},
			func() float64 { return float64(p.waiting.Load()) }),
		overloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_pipeline_overloads_total",
			Help: "Requests refused because memory bounds were reached, by bound."}, []string{"bound"}),
		cuts: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_pipeline_head_cuts_total",
			Help: "Times the store's head was sealed and flushed to a block."}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_pipeline_replayed_spans_total",
			Help: "Spans replayed from the write-ahead log at start."}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(p.m.inflight, p.m.pending, p.m.waiting, p.m.overloads, p.m.cuts, p.m.replayed)
	}
	from := 0
	if p.head != nil {
		from = p.head.WALCheckpoint()
	}
	t0 := time.Now()
	n := 0
	err := w.Replay(from, func(_ int, spans []*model.Span) error {
		n += len(spans)
		return p.next.Write(context.Background(), spans)
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: replaying the write-ahead log: %w", err)
	}
	p.m.replayed.Add(float64(n))
	if n > 0 {
		p.lg.Info("write-ahead log replayed", "spans", n, "from_segment", from, "took", time.Since(t0).Round(time.Millisecond))
	}
	go p.loop()
	return p, nil
}

// estimate is a cheap guess of the memory a request's spans take: the model's sizes (a span and its pointer, an
// attribute, an event, a link) plus the bytes of their strings, and the log record (~75 B a span).
func estimate(spans []*model.Span) int64 {
	var n int64
	for _, s := range spans {
		n += estimateSpan(s)
	}
	return n
}

// estimateSpan is estimate for one span.
func estimateSpan(s *model.Span) int64 {
	const (
		spanSize  = int64(unsafe.Sizeof(model.Span{})) + 8 + 75
		attrSize  = int64(unsafe.Sizeof(model.Attr{}))
		eventSize = int64(unsafe.Sizeof(model.Event{}))
		linkSize  = int64(unsafe.Sizeof(model.Link{}))
	)
	n := spanSize + int64(len(s.Name)+len(s.StatusMessage)+len(s.SpanResource))
	for i := range s.Attrs {
		n += attrSize + int64(len(s.Attrs[i].Key)+len(s.Attrs[i].Value.Str))
	}
	return n + int64(len(s.Events))*eventSize + int64(len(s.Links))*linkSize
}

// ErrClosed is returned by Consume after Close.
var ErrClosed = errors.New("pipeline: closed")

// Admit says whether Consume would take a request now, before the request is read and decoded: it answers
// *ingest.OverloadError, counted like Consume's, while the store holds MaxPendingSpans spans not yet in blocks or
// MaxInFlightBytes of spans are being appended. Receivers ask it first (ingest.Options.Admit), so that a saturated
// server does not spend its CPU decoding requests it will refuse.
//
// While the pending bound is what refuses, Admit first waits (unless ctx is already done: receivers ask so for a
// request whose body they have already read, a gRPC message), up to AdmitWait or until ctx ends, for a cut to
// write heads to blocks, and takes the request if that made room: the request waits unread (its body costs
// nothing until then), and its client is not left idle for the retry hint when the room comes a few
// milliseconds later.
func (p *Pipeline) Admit(ctx context.Context) error {
	if p.head != nil && p.o.AdmitWait > 0 && ctx.Err() == nil && p.head.Pending() >= p.o.MaxPendingSpans {
		p.waiting.Add(1)
		defer p.waiting.Add(-1)
		t := time.NewTimer(p.o.AdmitWait)
		defer t.Stop()
	wait:
		for {
			// The channel is taken before pending is read: a cut that ends in between closes it.
			p.freedMu.Lock()
			freed := p.freed
			p.freedMu.Unlock()
			if p.head.Pending() < p.o.MaxPendingSpans {
				break
			}
			select {
			case <-freed:
			case <-t.C:
				break wait
			case <-ctx.Done():
				break wait
			case <-p.stop:
				break wait
			}
		}
	}
	return p.admitNow()
}

// admitNow is Admit without the wait.
func (p *Pipeline) admitNow() error {
	if p.head != nil {
		if n := p.head.Pending(); n >= p.o.MaxPendingSpans {
			p.m.overloads.WithLabelValues("pending_spans").Inc()
			return &ingest.OverloadError{RetryAfter: p.o.RetryAfter,
				Reason: fmt.Sprintf("%d spans wait to be written to blocks", n)}
		}
	}
	if cur := p.inflight.Load(); cur >= p.o.MaxInFlightBytes {
		p.m.overloads.WithLabelValues("inflight_bytes").Inc()
		return &ingest.OverloadError{RetryAfter: p.o.RetryAfter,
			Reason: fmt.Sprintf("%d bytes of spans in flight, limit %d", cur, p.o.MaxInFlightBytes)}
	}
	return nil
}

var _ ingest.BatchConsumer = (*Pipeline)(nil)

// batch is the pipeline's ingest.Batch: the request's log record, encoded span by span as the receiver decodes.
// It is an ingest.ReleasingBatch: ConsumeBatch notes whether the spans reached only the log and a RecordWriter.
type batch struct {
	e        *wal.Encoder
	size     int64 // estimate of the spans added, made while each is still in the cache
	released bool
}

func (b *batch) Add(s *model.Span) {
	b.e.Add(s)
	b.size += estimateSpan(s)
}

// Released reports whether the ConsumeBatch that took b kept nothing of its spans: they went only to the log's
// encoder (which copies what it keeps) and to a RecordWriter, or no further than an answer of overload or error.
// Spans written to a Stage, or to a store that is no RecordWriter, are kept.
func (b *batch) Released() bool { return b.released }

var _ ingest.ReleasingBatch = (*batch)(nil)

// NewBatch starts encoding a request's log record while a receiver decodes it (see ingest.BatchConsumer).
func (p *Pipeline) NewBatch() ingest.Batch { return &batch{e: wal.NewEncoder()} }

// ConsumeBatch is Consume for spans that b, from NewBatch, has encoded as they were decoded. Afterwards b reports
// whether the receiver may reuse the spans' memory (see batch.Released).
func (p *Pipeline) ConsumeBatch(ctx context.Context, spans []*model.Span, b ingest.Batch) error {
	pb, ok := b.(*batch)
	var kept bool
	var err error
	if ok && pb.e != nil && pb.e.Spans() == len(spans) {
		kept, err = p.consume(ctx, spans, pb.size, pb.e.Finish)
	} else {
		kept, err = p.consume(ctx, spans, estimate(spans), func() *wal.Record { return wal.Encode(spans) })
	}
	if ok {
		pb.e = nil // finished, or not to be trusted: never used again
		pb.released = !kept
	}
	return err
}

// Consume appends the spans to the log and returns nil once they are durable; then they are in the store. It
// answers *ingest.OverloadError, storing nothing, when memory bounds are reached.
func (p *Pipeline) Consume(ctx context.Context, spans []*model.Span) error {
	_, err := p.consume(ctx, spans, estimate(spans), func() *wal.Record { return wal.Encode(spans) })
	return err
}

// consume is Consume with the spans' estimated size (see estimate) and their log record made by encode. kept
// reports whether the spans were handed to a writer that may keep them (a Stage, or a store that is no
// RecordWriter); on every other path, errors included, the pipeline keeps nothing of them.
func (p *Pipeline) consume(ctx context.Context, spans []*model.Span, size int64, encode func() *wal.Record) (kept bool, err error) {
	if len(spans) == 0 {
		return false, nil
	}
	// The request is decoded, its spans in memory: no waiting here (the receiver's Admit did that).
	if err := p.admitNow(); err != nil {
		return false, err
	}
	if cur := p.inflight.Add(size); cur > p.o.MaxInFlightBytes && cur != size {
		p.inflight.Add(-size)
		p.m.overloads.WithLabelValues("inflight_bytes").Inc()
		return false, &ingest.OverloadError{RetryAfter: p.o.RetryAfter,
			Reason: fmt.Sprintf("%d bytes of spans in flight, limit %d", cur-size, p.o.MaxInFlightBytes)}
	}
	defer p.inflight.Add(-size)

	// Encoding happens before the shared lock, so that a cut waiting for the lock waits for less.
	rec := encode()
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false, ErrClosed
	}
	if err := p.log.AppendRecord(ctx, rec); err != nil {
		return false, fmt.Errorf("pipeline: %w", err)
	}
	// The spans are durable: the request may be acknowledged whatever happens next. A failure to hand them to
	// the store is logged; the log replays them on the next start.
	if p.recw != nil {
		err = p.recw.WriteRecord(ctx, spans, rec)
	} else {
		kept = true
		err = p.next.Write(ctx, spans)
	}
	if err != nil {
		p.lg.Error("spans durable in the log but not written to the store", "spans", len(spans), "err", err)
	}
	return kept, nil
}

func (p *Pipeline) loop() {
	defer close(p.done)
	t := time.NewTicker(p.o.CutCheck)
	defer t.Stop()
	ticks := 0
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		ticks++
		if p.head != nil {
			// Cutting at a quarter of the pending bound keeps one head taking spans while the one before is
			// written (a head as big as the bound would stop ingest for the whole of its flush), leaves room for
			// two more while a flush is slow, and keeps the decoded spans held in memory, which the collector
			// marks over and over, to about half the bound.
			// A head that filled while the one before was written is cut at once, not at the next tick: under
			// load the writes then follow one another with no gap.
			for p.head.ShouldCut() || p.head.Pending() >= p.o.MaxPendingSpans/4 {
				if err := p.Cut(); err != nil {
					p.lg.Error("cutting the store's head into a block failed; will retry", "err", err)
					break
				}
				select {
				case <-p.stop:
					return
				default:
				}
			}
		} else if ticks%200 == 0 {
			if err := p.Cut(); err != nil {
				p.lg.Error("truncating the write-ahead log failed; will retry", "err", err)
			}
		}
	}
}

// Cut seals the store's head at the current point of the log, writes it to a block, and deletes the log segments
// the block now holds. For a store without a head it just rotates and truncates the log.
func (p *Pipeline) Cut() error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	seg, err := p.log.Rotate()
	if err != nil {
		p.mu.Unlock()
		return err
	}
	if p.head != nil {
		p.head.Seal(seg)
	}
	p.mu.Unlock()
	if p.head != nil {
		err := p.head.Flush()
		p.freedMu.Lock()
		close(p.freed) // wakes the requests Admit holds, whether or not the flush made room
		p.freed = make(chan struct{})
		p.freedMu.Unlock()
		if err != nil {
			return err
		}
		p.m.cuts.Inc()
	}
	return p.log.TruncateBefore(seg)
}

// Close stops taking spans, writes the store's head to a block, truncates and closes the log. It does not close
// the store.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	err := p.Cut()
	if e := p.log.Close(); err == nil {
		err = e
	}
	return err
}
