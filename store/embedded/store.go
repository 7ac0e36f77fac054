// Package embedded is the span store weft runs on by default: nothing to install, everything under one
// directory. It sits after the write-ahead log (package wal): the pipeline appends spans to the log, then writes
// them here.
//
// Spans land in an in-memory head. When the head is big or old enough the pipeline seals it (after rotating the
// log) and the store writes it as an immutable block file sorted by trace ID, with a trace table for lookups by ID
// and an index of terms (service, operation with duration buckets, name, status, kind, attribute key=value) to
// posting lists of traces for search. Small blocks are compacted into bigger ones; blocks older than the
// retention are deleted whole. See docs/storage.md for the format and the measurements behind it.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/wal"
)

// Options configure a store. The zero value gives the defaults.
type Options struct {
	// Retention is how long spans are kept (default 7 days). Whole blocks whose every span started before
	// now-Retention are deleted.
	Retention time.Duration
	// BlockSpans and BlockAge say when the head should be cut into a block: at this many spans, or when its
	// oldest write is this old (defaults 200000 spans, 1 minute).
	BlockSpans int
	BlockAge   time.Duration
	// CompactSpans is the size blocks are compacted up to (default 2,000,000 spans); CompactFanIn the number of
	// small blocks that triggers a compaction (default 4); CompactInterval how often compaction and retention
	// run in the background (default 30 s; negative disables the background loop, for tests).
	CompactSpans    int
	CompactFanIn    int
	CompactInterval time.Duration
	// PageCacheBytes bounds the cache of decompressed block pages (default 64 MiB); term chunks have a cache
	// of a quarter of that besides.
	PageCacheBytes int
	// SpareBytes bounds the files of dropped blocks kept to write new blocks over (default 512 MiB; negative keeps
	// none): see spares.
	SpareBytes int64
	// TraceCacheSpans bounds the cache of decoded large traces (those of 10,000 spans or more in a block), in
	// spans (default 120,000, about 160 MB at most; negative disables it).
	TraceCacheSpans int
	Logger          *slog.Logger
	// Registerer, if set, receives the store's metrics: write and query latencies, blocks, bytes on disk, head
	// spans, compactions.
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now), for tests of retention.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.SpareBytes == 0 {
		o.SpareBytes = 512 << 20
	}
	if o.BlockSpans <= 0 {
		o.BlockSpans = 200_000
	}
	if o.BlockAge <= 0 {
		o.BlockAge = time.Minute
	}
	if o.CompactSpans <= 0 {
		o.CompactSpans = 2_000_000
	}
	if o.CompactFanIn < 2 {
		o.CompactFanIn = 4
	}
	if o.CompactInterval == 0 {
		o.CompactInterval = 30 * time.Second
	}
	if o.PageCacheBytes == 0 {
		o.PageCacheBytes = 64 << 20
	}
	if o.TraceCacheSpans == 0 {
		o.TraceCacheSpans = 120_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	dir    string
	o      Options
	log    *slog.Logger
	cache  *pageCache
	chunks *pageCache // term chunks, apart from the pages: searches' pages would push them out
	traces *traceCache
	spares *spares
	m      storeMetrics

	mu     sync.RWMutex
	head   *head
	sealed []*head  // cut, not yet written; oldest first
	blocks []*block // sorted by MinStart
	closed bool

	// partSpans and maxParts set how a head is split into blocks (see parts); tests change them.
	partSpans, maxParts int

	flushMu   sync.Mutex // one flush at a time
	compactMu sync.Mutex // one compaction or retention pass at a time; flushes go on meanwhile
	heads     int64      // heads written to blocks so far (under mu)
	passHeads int64      // heads at the end of the last compaction pass (under compactMu)
	nextBlock atomic.Int64
	stop      chan struct{}
	done      chan struct{}
}

var _ store.Store = (*Store)(nil)

type storeMetrics struct {
	write       prometheus.Histogram
	query       *prometheus.HistogramVec
	blocks      prometheus.Gauge
	bytes       prometheus.Gauge
	headSpans   prometheus.Gauge
	compactions prometheus.Counter
	spareBytes  prometheus.Gauge
}

func newStoreMetrics(r prometheus.Registerer) storeMetrics {
	b := prometheus.ExponentialBuckets(0.00005, 2, 18)
	m := storeMetrics{
		write: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weft_store_write_seconds",
			Help: "Time to write one batch of spans into the store's head.", Buckets: b}),
		query: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weft_store_query_seconds",
			Help: "Time to answer a store query, by operation.", Buckets: b}, []string{"op"}),
		blocks: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_store_blocks",
			Help: "Block files in the store."}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_store_bytes",
			Help: "Bytes of block files on disk."}),
		headSpans: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_store_head_spans",
			Help: "Spans held in memory, not yet in blocks."}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_store_compactions_total",
			Help: "Block compactions done."}),
		spareBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_store_spare_bytes",
			Help: "Bytes of the files of dropped blocks kept to write new blocks over."}),
	}
	if r != nil {
		r.MustRegister(m.write, m.query, m.blocks, m.bytes, m.headSpans, m.compactions, m.spareBytes)
	}
	return m
}

// Open opens (creating if needed) the store in dir. Block files that cannot be read are renamed to *.bad with a
// logged warning, so that a damaged file never stops the server from starting.
func Open(dir string, o Options) (*Store, error) {
	o.defaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	s := &Store{dir: dir, o: o, log: o.Logger, cache: newPageCache(o.PageCacheBytes),
		chunks: newPageCache(max(o.PageCacheBytes/4, 0)),
		traces: newTraceCache(o.TraceCacheSpans), m: newStoreMetrics(o.Registerer), partSpans: partSpans,
		head: newHead(), stop: make(chan struct{}), done: make(chan struct{})}
	s.spares = newSpares(dir, o.SpareBytes, s.m.spareBytes)
	if err := removePending(dir); err != nil {
		return nil, fmt.Errorf("embedded: the blocks of an interrupted head write: %w", err)
	}
	if err := finishCompaction(dir); err != nil {
		return nil, fmt.Errorf("embedded: finishing an interrupted compaction: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(path) // a block being written when the process stopped
		case strings.HasSuffix(name, spareSuffix):
			if info, err := e.Info(); err == nil {
				s.spares.found(name, info.Size())
			}
		case strings.HasSuffix(name, blockSuffix):
			var n int
			fmt.Sscanf(name, "%d", &n)
			if int64(n) > s.nextBlock.Load() {
				s.nextBlock.Store(int64(n))
			}
			b, err := openBlock(path)
			if err != nil {
				s.log.Warn("block file unreadable; set aside", "file", path, "err", err)
				os.Rename(path, path+".bad")
				continue
			}
			s.blocks = append(s.blocks, b)
		}
	}
	s.sortBlocks()
	s.updateGauges()
	if o.CompactInterval > 0 {
		go s.loop()
	} else {
		close(s.done)
	}
	return s, nil
}

func (s *Store) sortBlocks() {
	sort.Slice(s.blocks, func(i, j int) bool { return s.blocks[i].meta.MinStart < s.blocks[j].meta.MinStart })
}

// updateGauges refreshes the block metrics; called with mu held or before the store is shared.
func (s *Store) updateGauges() {
	var bytes int64
	for _, b := range s.blocks {
		bytes += b.size
	}
	s.m.blocks.Set(float64(len(s.blocks)))
	s.m.bytes.Set(float64(bytes))
}

func (s *Store) loop() {
	defer close(s.done)
	t := time.NewTicker(s.o.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.ApplyRetention(); err != nil {
			s.log.Warn("retention failed", "err", err)
		}
		if err := s.Compact(); err != nil {
			s.log.Warn("compaction failed", "err", err)
		}
	}
}

// ErrClosed is returned by calls on a closed store.
var ErrClosed = errors.New("embedded: store closed")

// Write puts spans (already durable in the write-ahead log) into the head. It encodes them for the block they
// will be written to; WriteRecord takes them already encoded.
func (s *Store) Write(ctx context.Context, spans []*model.Span) error {
	if len(spans) == 0 {
		return nil
	}
	return s.WriteRecord(ctx, spans, wal.Encode(spans))
}

// WriteRecord is Write for spans that rec encodes, as the pipeline has them from appending to the log: the head
// keeps rec and the block is built from it without encoding the spans again.
//
// The store keeps no reference to spans, nor to anything they point to (attributes, events, links, resources):
// it reads their trace IDs and start times during the call and answers every query from rec. Once WriteRecord
// returns, the caller may reuse the spans' memory. rec must not change afterwards.
func (s *Store) WriteRecord(ctx context.Context, spans []*model.Span, rec *wal.Record) error {
	t0 := time.Now()
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	h := s.head
	h.write(spans, rec)
	s.mu.RUnlock()
	h.view.dropIdle(t0.UnixNano())
	s.m.write.Observe(time.Since(t0).Seconds())
	s.m.headSpans.Add(float64(len(spans)))
	return nil
}

// ShouldCut reports whether the head has reached the block size or age and should be sealed.
func (s *Store) ShouldCut() bool {
	s.mu.RLock()
	h := s.head
	s.mu.RUnlock()
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.spans >= s.o.BlockSpans || h.spans > 0 && time.Since(h.created) >= s.o.BlockAge
}

// Pending is the number of spans held in memory: the head's and those of sealed heads not yet in blocks.
func (s *Store) Pending() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, h := range s.sealed {
		n += h.spans
	}
	s.head.mu.RLock()
	n += s.head.spans
	s.head.mu.RUnlock()
	return n
}

// Seal cuts the head: it stops taking writes and waits for Flush to become a block; a new head takes writes.
// walSegment is the write-ahead log segment that the log rotated to just before: every span in the segments below
// it is in this head or in older ones. The caller must keep writes out while it rotates the log and seals, so the
// two happen at the same point of the stream.
func (s *Store) Seal(walSegment int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.head
	h.walSeg = walSegment
	s.sealed = append(s.sealed, h)
	s.head = newHead()
}

// Flush writes every sealed head to blocks. When it returns without error the log segments below the newest
// sealed head's walSegment may be deleted.
func (s *Store) Flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	for {
		s.mu.RLock()
		if len(s.sealed) == 0 {
			s.mu.RUnlock()
			return nil
		}
		h := s.sealed[0]
		s.mu.RUnlock()
		var bs []*block
		if h.spans > 0 {
			var err error
			if bs, err = s.writeHead(h); err != nil {
				return err
			}
		}
		s.mu.Lock()
		s.sealed = s.sealed[1:]
		if len(bs) > 0 {
			s.heads++
		}
		s.blocks = append(s.blocks, bs...)
		s.sortBlocks()
		s.updateGauges()
		s.mu.Unlock()
		s.m.headSpans.Sub(float64(h.spans))
	}
}

func (s *Store) newBlockPath() string {
	return filepath.Join(s.dir, fmt.Sprintf("%08d%s", s.nextBlock.Add(1), blockSuffix))
}

// partSpans is the fewest spans a head is split for: a head of fewer is written as one block.
const partSpans = 20_000

// headBytesPerSpan is about what a span takes in a block written from a head, to pick a spare file of the size.
const headBytesPerSpan = 80

// parts is the number of blocks a head of n spans is written as, at once: one per processor, with partSpans
// spans at least each (s.maxParts, when set, bounds it instead of the processors, for tests).
func (s *Store) parts(n int) int {
	most := runtime.GOMAXPROCS(0)
	if s.maxParts > 0 {
		most = s.maxParts
	}
	return max(1, min(most, n/max(s.partSpans, 1)))
}

// writeHead writes a sealed head as blocks: one, or for a big head one per processor, each holding a range of
// the head's trace IDs, written at once. The blocks appear together or not at all, also after a crash (see
// commitParts).
func (s *Store) writeHead(h *head) ([]*block, error) {
	t0 := time.Now()
	n := s.parts(h.spans)
	paths := make([]string, n)
	for i := range paths {
		paths[i] = s.newBlockPath()
	}
	bs, err := writeHeadBlocks(paths, h, false, s.spares)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		s.log.Debug("head written to block", "block", b.path, "spans", b.meta.Spans, "bytes", b.size, "parts", len(bs),
			"took", time.Since(t0))
	}
	return bs, nil
}

// writeBlock writes a sealed head as one block at path.
func writeBlock(path string, h *head) (*block, error) { return writeBlockLevel(path, h, false) }

func writeBlockLevel(path string, h *head, better bool) (*block, error) {
	bs, err := writeHeadBlocks([]string{path}, h, better, nil)
	if err != nil {
		return nil, err
	}
	return bs[0], nil
}

// headRuns is a sealed head's records parsed, and their runs sorted by trace ID.
type headRuns struct {
	batches []*wal.Batch
	runs    []recRun   // in the order the head took them
	order   []traceRun // runs sorted by trace ID, then arrival
}

// recRun is run of batches[rec] (see wal.Run).
type recRun struct {
	rec    int32
	from   wal.Pos
	recEnd int
}

// parseHead parses the head's records (on up to workers goroutines) and sorts their runs by trace ID. Runs are
// sorted by trace ID, keeping the order of arrival within a trace (the index breaks ties); the records of a
// request grouped by service hold about one run for every two spans.
func parseHead(h *head, workers int) (*headRuns, error) {
	hr := &headRuns{batches: make([]*wal.Batch, len(h.batches))}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(h.batches); i += workers {
				var err error
				if hr.batches[i], err = wal.ParseBatch(h.batches[i].Payload(), nil); err != nil {
					errs[w] = fmt.Errorf("embedded: writing the head: record %d: %w", i, err)
					return
				}
			}
		})
	}
	nruns := 0
	for _, rec := range h.batches {
		nruns += len(rec.Runs)
	}
	hr.runs = make([]recRun, 0, nruns)
	order := make([]traceRun, 0, nruns)
	for i, rec := range h.batches {
		for _, r := range rec.Runs {
			order = append(order, traceRun{r.TraceID, len(hr.runs)})
			hr.runs = append(hr.runs, recRun{int32(i), r.From, r.RecEnd})
		}
	}
	hr.order = sortRuns(order)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return hr, nil
}

// split cuts the sorted runs into n parts of about as many runs, at trace boundaries: the ends of each part.
func (hr *headRuns) split(n int) []int {
	ends := make([]int, 0, n)
	lo := 0
	for k := 1; k <= n; k++ {
		e := len(hr.order) * k / n
		for e > lo && e < len(hr.order) && hr.order[e].id == hr.order[e-1].id {
			e++
		}
		e = max(e, lo)
		ends = append(ends, e)
		lo = e
	}
	return ends
}

// writeHeadBlocks writes a sealed head as len(paths) blocks, at once, each with a range of its trace IDs (fewer
// when the head has fewer traces), over spare files from sp (which may be nil). The blocks' files appear together or
// not at all (commitParts).
func writeHeadBlocks(paths []string, h *head, better bool, sp *spares) ([]*block, error) {
	hr, err := parseHead(h, len(paths))
	if err != nil {
		return nil, err
	}
	var ranges [][2]int // of hr.order, one a block, none empty but for an empty head's
	lo := 0
	for _, e := range hr.split(len(paths)) {
		if e > lo || len(ranges) == 0 && e == len(hr.order) {
			ranges = append(ranges, [2]int{lo, e})
		}
		lo = e
	}
	// Every record is a source of every part: with random trace IDs every record has runs in every part, and the
	// dictionary is the strings of more than one record. The records are interned once, and each part's writer
	// starts from that (wal.PageWriter.Fork; a head written whole takes the writer itself), with the ids and the
	// dictionary it would have found itself.
	pw := wal.NewPageWriter()
	srcs := make([]*wal.Source, len(hr.batches))
	for i, bt := range hr.batches {
		srcs[i] = pw.Source(bt, nil)
	}
	dict := dictByCount(pw)
	pw.SetDict(dict) // before forking: the forks share it, and the sources' references to it
	bws := make([]*blockWriter, len(ranges))
	errs := make([]error, len(ranges))
	var wg sync.WaitGroup
	for k, r := range ranges {
		fork := pw
		if len(ranges) > 1 {
			fork = pw.Fork()
		}
		wg.Go(func() {
			spans := h.spans * (r[1] - r[0]) / max(len(hr.order), 1)
			bw, err := hr.writePart(paths[k], fork, srcs, dict, r[0], r[1], spans, better, sp)
			if err == nil {
				if len(ranges) > 1 {
					bw.meta.Parts = len(ranges)
				}
				if err = bw.finishFile(h.walSeg, 0); err != nil {
					bw = nil
				}
			}
			bws[k], errs[k] = bw, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, bw := range bws {
			if bw != nil {
				os.Remove(bw.tmp)
			}
		}
		return nil, err
	}
	return commitParts(bws)
}

// writePart writes the traces of order[lo:hi] into a block at path, up to its footer (finishFile), with pw (a fork
// of the writer that made srcs, the records' sources, or that writer) whose dictionary, dict, is set; spans is an
// estimate of their number. The file is written over a spare from sp when there is one.
func (hr *headRuns) writePart(path string, pw *wal.PageWriter, srcs []*wal.Source, dict []uint32, lo, hi, spans int,
	better bool, sp *spares) (*blockWriter, error) {
	bw, err := newBlockWriter(path, better, sp, int64(spans)*headBytesPerSpan)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	bw.pw = pw
	bw.keepDict(dict)
	bw.edges = make([]traceEdge, 0, spans) // at most one a span; growing it copied it five times over
	var group []srcRun
	for i := lo; i < hi; {
		id := hr.order[i].id
		group = group[:0]
		for ; i < hi && hr.order[i].id == id; i++ {
			r := &hr.runs[hr.order[i].idx]
			group = append(group, srcRun{srcs[r.rec], r.from, r.recEnd})
		}
		if err := bw.addTrace(id, group); err != nil {
			bw.abort()
			return nil, fmt.Errorf("embedded: writing the head: %w", err)
		}
	}
	return bw, nil
}

// pendingFile lists the blocks of a head written as several while they are renamed into place: a crash in the
// middle leaves it, and Open then deletes the blocks it names (their spans are still in the write-ahead log,
// which is truncated only once they are all in place). Otherwise the blocks already renamed would move the log's
// checkpoint past the spans of the others.
const pendingFile = "parts.pending"

// commitParts renames the written blocks into place, together, and opens them.
func commitParts(bws []*blockWriter) ([]*block, error) {
	if len(bws) == 1 {
		b, err := bws[0].commit()
		if err != nil {
			return nil, err
		}
		return []*block{b}, nil
	}
	dir := filepath.Dir(bws[0].path)
	var names []string
	for _, bw := range bws {
		names = append(names, filepath.Base(bw.path))
	}
	var bs []*block
	// fail takes everything back to before the head was written; the caller may write it again.
	fail := func(err error) ([]*block, error) {
		for _, b := range bs {
			b.release()
		}
		for _, bw := range bws {
			os.Remove(bw.tmp)
			os.Remove(bw.path)
		}
		removeList(dir, pendingFile)
		return nil, fmt.Errorf("embedded: writing the head's blocks: %w", err)
	}
	if err := writeList(dir, pendingFile, names); err != nil {
		return fail(err)
	}
	for _, bw := range bws {
		if err := os.Rename(bw.tmp, bw.path); err != nil {
			return fail(err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	for _, bw := range bws {
		b, err := openBlock(bw.path)
		if err != nil {
			return fail(err)
		}
		bs = append(bs, b)
	}
	// The list's removal is the commit: once it is durable, the blocks are the head's.
	if err := removeList(dir, pendingFile); err != nil {
		return fail(err)
	}
	return bs, nil
}

// writeSynced writes a file and syncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	return err
}

// removePending deletes the blocks of a head whose renaming into place a crash interrupted (see pendingFile).
func removePending(dir string) error {
	names, err := readList(dir, pendingFile)
	if err != nil || names == nil {
		return err
	}
	if err := removeBlocks(dir, names); err != nil {
		return err
	}
	return removeList(dir, pendingFile)
}

// A list (pendingFile, compactFile) names block files of dir, one a line, while they change places; a crash
// leaves it for Open to act on.

// writeList writes the list file of dir naming names, durably.
func writeList(dir, file string, names []string) error {
	if err := writeSynced(filepath.Join(dir, file), []byte(strings.Join(names, "\n")+"\n")); err != nil {
		return err
	}
	return syncDir(dir)
}

// readList reads the list file of dir: its names, or nil when there is no list.
func readList(dir, file string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return append([]string{}, strings.Fields(string(data))...), nil
}

// blockName reports whether a name read from a list is a block file of the list's own directory.
func blockName(name string) bool {
	return name == filepath.Base(name) && strings.HasSuffix(name, blockSuffix)
}

// removeBlocks deletes, durably, the block files of dir that names name and that exist; other names are skipped.
func removeBlocks(dir string, names []string) error {
	for _, name := range names {
		if !blockName(name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(dir)
}

// removeList deletes the list file of dir, if there is one, durably.
func removeList(dir, file string) error {
	err := os.Remove(filepath.Join(dir, file))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// traceRun is a run of a head's records, idx in the order the head took them.
type traceRun struct {
	id  model.TraceID
	idx int
}

// sortRuns sorts runs (in idx order) by trace ID and then idx: a radix sort of the IDs' first 32 bits, then a
// sort of the rare groups of runs that share them but not their IDs (random IDs: about one pair in a 200K-span
// head). It returns the sorted slice, which may be runs or a new one.
func sortRuns(runs []traceRun) []traceRun {
	if len(runs) >= 1<<32 {
		slices.SortStableFunc(runs, func(a, b traceRun) int { return bytes.Compare(a.id[:], b.id[:]) })
		return runs
	}
	keys := make([]uint64, 2*len(runs))
	for i, r := range runs {
		keys[i] = uint64(binary.BigEndian.Uint32(r.id[:4]))<<32 | uint64(i)
	}
	keys = radixSortHigh(keys[:len(runs)], keys[len(runs):])
	out := make([]traceRun, len(runs))
	for i, k := range keys {
		out[i] = runs[uint32(k)]
	}
	for i := 0; i < len(out); {
		j := i + 1
		mixed := false
		for j < len(out) && keys[j]>>32 == keys[i]>>32 {
			mixed = mixed || out[j].id != out[i].id
			j++
		}
		if mixed { // stable: equal IDs keep their idx order
			slices.SortStableFunc(out[i:j], func(a, b traceRun) int { return bytes.Compare(a.id[:], b.id[:]) })
		}
		i = j
	}
	return out
}

// WALCheckpoint is the first write-ahead log segment whose spans may not be in a block: replay starts there.
func (s *Store) WALCheckpoint() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cp := 0
	for _, b := range s.blocks {
		cp = max(cp, b.meta.WAL)
	}
	return cp
}

// snapshot is a consistent view of the store's parts for one query; release it when done.
type snapshot struct {
	heads  []*head
	blocks []*block
}

func (s *Store) snapshot() (*snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	sn := &snapshot{blocks: make([]*block, len(s.blocks))}
	copy(sn.blocks, s.blocks)
	for _, b := range sn.blocks {
		b.refs.Add(1)
	}
	sn.heads = append(append(sn.heads, s.sealed...), s.head)
	return sn, nil
}

func (sn *snapshot) release() {
	for _, b := range sn.blocks {
		b.release()
	}
}

// trace gathers every span of id from all parts.
func (s *Store) trace(sn *snapshot, id model.TraceID) ([]*model.Span, error) {
	return s.traceParsed(sn, id, nil)
}

func (s *Store) observe(op string, t0 time.Time) {
	s.m.query.WithLabelValues(op).Observe(time.Since(t0).Seconds())
}

// Trace returns every span of one trace, or store.ErrNotFound.
func (s *Store) Trace(ctx context.Context, id model.TraceID) ([]*model.Span, error) {
	defer s.observe("trace", time.Now())
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()
	spans, err := s.trace(sn, id)
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		return nil, store.ErrNotFound
	}
	return spans, nil
}

// Traces returns the spans of many traces; missing IDs are absent from the map.
func (s *Store) Traces(ctx context.Context, ids []model.TraceID) (map[model.TraceID][]*model.Span, error) {
	defer s.observe("traces", time.Now())
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()
	out := make(map[model.TraceID][]*model.Span, len(ids))
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		spans, err := s.trace(sn, id)
		if err != nil {
			return nil, err
		}
		if len(spans) > 0 {
			out[id] = spans
		}
	}
	return out, nil
}

// Services lists every service name seen, sorted.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	defer s.observe("services", time.Now())
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()
	set := map[string]bool{}
	for _, b := range sn.blocks {
		for _, svc := range b.meta.Services {
			set[svc] = true
		}
	}
	for _, h := range sn.heads {
		pieces, err := h.scan()
		if err != nil {
			return nil, err
		}
		eachSpan(pieces, func(sp *model.Span) {
			if svc := sp.Service(); svc != "" {
				set[svc] = true
			}
		})
	}
	return sortedKeys(set), nil
}

// Operations lists the span names of a service with their kinds; KindUnspecified lists all kinds.
func (s *Store) Operations(ctx context.Context, service string, kind model.Kind) ([]store.Operation, error) {
	defer s.observe("operations", time.Now())
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()
	set := map[store.Operation]bool{}
	add := func(svc, name string, k model.Kind) {
		if (service == "" || svc == service) && (kind == model.KindUnspecified || k == kind) {
			set[store.Operation{Name: name, Kind: k}] = true
		}
	}
	for _, b := range sn.blocks {
		for _, o := range b.meta.Ops {
			add(o.Service, o.Name, o.Kind)
		}
	}
	for _, h := range sn.heads {
		pieces, err := h.scan()
		if err != nil {
			return nil, err
		}
		eachSpan(pieces, func(sp *model.Span) { add(sp.Service(), sp.Name, sp.Kind) })
	}
	out := make([]store.Operation, 0, len(set))
	for op := range set {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Kind < out[j].Kind
	})
	return out, nil
}

// AttributeKeys lists span and resource attribute keys seen, sorted.
func (s *Store) AttributeKeys(ctx context.Context) ([]string, error) {
	defer s.observe("attribute_keys", time.Now())
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()
	set := map[string]bool{}
	for _, b := range sn.blocks {
		for _, k := range b.meta.Keys {
			set[k] = true
		}
	}
	for _, h := range sn.heads {
		pieces, err := h.scan()
		if err != nil {
			return nil, err
		}
		eachSpan(pieces, func(sp *model.Span) {
			for _, a := range sp.Attrs {
				set[a.Key] = true
			}
			if sp.Resource != nil {
				for _, a := range sp.Resource.Attrs {
					set[a.Key] = true
				}
			}
		})
	}
	return sortedKeys(set), nil
}

// AttributeValues lists up to limit values seen for key that start with prefix, sorted.
func (s *Store) AttributeValues(ctx context.Context, key, prefix string, limit int) ([]string, error) {
	defer s.observe("attribute_values", time.Now())
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer sn.release()
	set := map[string]bool{}
	tp := string(termAttr) + key + "\x00"
	for _, b := range sn.blocks {
		n := 0
		err := b.termsWithPrefix(s.chunks, tp+prefix, func(term string) bool {
			set[term[len(tp):]] = true
			n++
			return limit <= 0 || n < limit
		})
		if err != nil {
			return nil, err
		}
	}
	add := func(attrs []model.Attr) {
		for _, a := range attrs {
			if a.Key == key {
				if v := a.Value.AsString(); strings.HasPrefix(v, prefix) {
					set[v] = true
				}
			}
		}
	}
	for _, h := range sn.heads {
		pieces, err := h.scan()
		if err != nil {
			return nil, err
		}
		eachSpan(pieces, func(sp *model.Span) {
			add(sp.Attrs)
			if sp.Resource != nil {
				add(sp.Resource.Attrs)
			}
		})
	}
	out := sortedKeys(set)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Close stops the background work and releases the files. The head is not written: the write-ahead log holds it,
// and the pipeline flushes before closing the store when it shuts down cleanly.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.blocks {
		b.release()
	}
	s.blocks = nil
	return nil
}
