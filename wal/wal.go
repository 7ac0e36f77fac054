// Package wal is weft's write-ahead log: the first thing an accepted span touches. Receivers hand spans to the
// pipeline, which appends them here and acknowledges the request only once Append returns; the store's in-memory
// head is rebuilt from the log after a crash, and the log is truncated once the store has written its head to
// immutable blocks. It also holds the binary span codec that the log and the store's blocks share.
//
// The log is a directory of numbered segment files (00000001.wal, ...). A segment starts with the 8 bytes
// "weftwal2", and each record is framed as
//
//	uint32 payload length | uint32 segment number | uint32 CRC-32C of the payload then the segment number | payload
//
// (little-endian; the payload is one encoded span batch). Appends are group-committed: concurrent appenders share
// one write and one fsync (fdatasync on Linux). Each write ends with an end mark, a frame of no payload, which the
// next write starts over.
//
// Segments are recycled: one the store no longer needs is renamed to a spare (NNNNNNNN.spare, a few kept) and
// written over as a later segment, because writing over a file's blocks costs the kernel a fraction of what
// allocating new ones does (docs/storage.md). A recycled segment still holds its earlier records past the new
// ones, which is why the end mark is there: replay stops at it, or, after a crash that came before a recycled
// segment's header was written, at the first record stamped with an older segment, silently. Anything else that
// is not a whole record is a torn write, warned about and cut off. Segments without the header, written before
// recycling, are read as before: uint32 length | uint32 CRC-32C of the payload | payload.
package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftrace/weft/model"
)

// FsyncPolicy says when appended records are forced to stable storage.
type FsyncPolicy struct {
	interval time.Duration // 0: fsync before Append returns
}

// FsyncAlways makes Append return only after its record is fsynced (shared with concurrent appends).
func FsyncAlways() FsyncPolicy { return FsyncPolicy{} }

// FsyncInterval makes Append return once its record is written to the operating system, which survives the
// process being killed, and fsyncs every d, which bounds what a machine crash can lose.
func FsyncInterval(d time.Duration) FsyncPolicy {
	if d <= 0 {
		return FsyncAlways()
	}
	return FsyncPolicy{interval: d}
}

// ParseFsync reads a policy as the --fsync flag gives it: "always", "interval" (every 100ms), or
// "interval:<duration>" such as "interval:20ms".
func ParseFsync(s string) (FsyncPolicy, error) {
	switch {
	case s == "always":
		return FsyncAlways(), nil
	case s == "interval":
		return FsyncInterval(100 * time.Millisecond), nil
	case strings.HasPrefix(s, "interval:"):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "interval:"))
		if err != nil || d <= 0 {
			return FsyncPolicy{}, fmt.Errorf("wal: fsync policy %q: the interval must be a positive duration", s)
		}
		return FsyncInterval(d), nil
	}
	return FsyncPolicy{}, fmt.Errorf("wal: fsync policy %q: want always, interval or interval:<duration>", s)
}

// String is "always" or "interval(<d>)".
func (p FsyncPolicy) String() string {
	if p.interval == 0 {
		return "always"
	}
	return "interval(" + p.interval.String() + ")"
}

// Options configure a log.
type Options struct {
	Fsync       FsyncPolicy
	SegmentSize int64 // a segment is closed and a new one started past this size; default 128 MiB
	Logger      *slog.Logger
	// Registerer, if set, receives the log's metrics (append and fsync latencies, bytes written, segments).
	Registerer prometheus.Registerer
}

const (
	frameHeader    = 12
	frameHeaderV1  = 8
	maxRecord      = 1 << 30
	segmentSuffix  = ".wal"
	spareSuffix    = ".spare"
	segMagic       = "weftwal2"
	defaultSegSize = 128 << 20
	// maxSpares is how many segments the store no longer needs are kept to be written over.
	maxSpares = 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("wal: closed")

// WAL is an open write-ahead log. It is safe for concurrent use.
type WAL struct {
	dir string
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []byte // framed records not yet written
	spare    []byte
	appended uint64 // count of records appended
	done     uint64 // records written (and fsynced under FsyncAlways)
	flushing bool
	err      error // sticky write error
	closed   bool

	f        *os.File
	seg      int
	segSize  int64 // bytes in the current segment, its header included
	first    int   // first segment present when opened (replay starts there)
	spares   []int // numbers of the spare files, to be written over as new segments
	stopSync chan struct{}
	syncDone chan struct{}

	m       metrics
	flushes int // group flushes done, for tests
}

type metrics struct {
	appendSeconds prometheus.Histogram
	fsyncSeconds  prometheus.Histogram
	bytes         prometheus.Counter
	segments      prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weft_wal_append_seconds", Help: "Time for a write-ahead log append to become durable.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weft_wal_fsync_seconds", Help: "Time of one write-ahead log write and fsync.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weft_wal_bytes_written_total", Help: "Bytes written to the write-ahead log."}),
		segments: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weft_wal_segments", Help: "Write-ahead log segment files on disk."}),
	}
	if r != nil {
		r.MustRegister(m.appendSeconds, m.fsyncSeconds, m.bytes, m.segments)
	}
	return m
}

func segName(i int) string   { return fmt.Sprintf("%08d%s", i, segmentSuffix) }
func spareName(i int) string { return fmt.Sprintf("%08d%s", i, spareSuffix) }

// segments lists the segment numbers in dir, ascending.
func segments(dir string) ([]int, error) { return numbered(dir, segmentSuffix) }

// numbered lists the numbers of the files of dir named NNNNNNNN<suffix>, ascending.
func numbered(dir, suffix string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []int
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok {
			continue
		}
		i, err := strconv.Atoi(n)
		if err != nil || i <= 0 {
			continue
		}
		segs = append(segs, i)
	}
	sort.Ints(segs)
	return segs, nil
}

// Open opens (creating if needed) the log in dir and starts a new segment for appends. The segments already there
// are read by Replay.
func Open(dir string, o Options) (*WAL, error) {
	if o.SegmentSize <= 0 {
		o.SegmentSize = defaultSegSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	segs, err := segments(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	w := &WAL{dir: dir, o: o, log: o.Logger, m: newMetrics(o.Registerer)}
	if w.spares, err = numbered(dir, spareSuffix); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	w.cond = sync.NewCond(&w.mu)
	next := 1
	if len(segs) > 0 {
		w.first = segs[0]
		next = segs[len(segs)-1] + 1
	} else {
		w.first = next
	}
	if err := w.openSegment(next); err != nil {
		return nil, err
	}
	w.m.segments.Set(float64(len(segs) + 1))
	if o.Fsync.interval > 0 {
		w.stopSync = make(chan struct{})
		w.syncDone = make(chan struct{})
		go w.syncLoop(o.Fsync.interval)
	}
	return w, nil
}

// openSegment starts segment i, on a spare when there is one, and writes its header.
func (w *WAL) openSegment(i int) error {
	path := filepath.Join(w.dir, segName(i))
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if n := len(w.spares); n > 0 {
		spare := w.spares[n-1]
		w.spares = w.spares[:n-1]
		if err := os.Rename(filepath.Join(w.dir, spareName(spare)), path); err == nil {
			flag = os.O_CREATE | os.O_WRONLY // its old records are written over, and stay stale past the new ones
		} else {
			w.log.Warn("write-ahead log spare segment unusable; a new file is made", "err", err)
		}
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	head := append([]byte(segMagic), make([]byte, frameHeader)...)
	stamp(head[len(segMagic):], i)
	if _, err := f.WriteAt(head, 0); err != nil { // the header and an end mark
		f.Close()
		return fmt.Errorf("wal: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return fmt.Errorf("wal: %w", err)
	}
	w.f, w.seg, w.segSize = f, i, int64(len(segMagic))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Dir is the log's directory.
func (w *WAL) Dir() string { return w.dir }

// Record is one batch of spans encoded for the log, with the runs of its traces. The store keeps it to build
// its blocks from, so that spans are encoded once on their way from a request to a block.
type Record struct {
	frame []byte // frameHeader bytes reserved for the log's frame header, then the payload
	// Runs are the batch's trace runs (see Run), in record order.
	Runs []Run
	// Spans is the number of spans in the batch.
	Spans int
}

// Payload is the encoded batch (what ParseBatch reads). It must not be modified.
func (r *Record) Payload() []byte { return r.frame[frameHeader:] }

var encoders = sync.Pool{New: func() any { return new(Encoder) }}

// NewEncoder gives an empty encoder whose batch Finish turns into a record, reusing the buffers of encoders
// finished before.
func NewEncoder() *Encoder {
	e := encoders.Get().(*Encoder)
	e.Shared = nil
	e.Reset()
	return e
}

// Finish returns the batch encoded so far as a record and gives the encoder back for reuse (when it came from
// NewEncoder or not): e must not be used afterwards.
func (e *Encoder) Finish() *Record {
	frame := make([]byte, frameHeader, frameHeader+e.Size()+64)
	r := &Record{frame: e.AppendTo(frame), Runs: slices.Clone(e.Runs()), Spans: e.Spans()}
	if cap(e.rec) > 8<<20 || len(e.table) > 1<<16 { // do not keep the buffers of an exceptional batch
		return r
	}
	clear(e.strs) // a pooled encoder must not keep the batch's strings (and the blocks they lie in) alive
	e.Reset()
	encoders.Put(e)
	return r
}

// Encode encodes spans as one record.
func Encode(spans []*model.Span) *Record {
	e := NewEncoder()
	for _, s := range spans {
		e.Add(s)
	}
	return e.Finish()
}

// Append writes spans as one record and returns once it is durable under the fsync policy. Concurrent appends
// share writes and fsyncs. An empty spans appends nothing.
func (w *WAL) Append(ctx context.Context, spans []*model.Span) error {
	if len(spans) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return w.AppendRecord(ctx, Encode(spans))
}

// AppendRecord is Append for spans already encoded with Encode.
func (w *WAL) AppendRecord(ctx context.Context, r *Record) error {
	if r.Spans == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t0 := time.Now()
	frame := r.frame
	payload := frame[frameHeader:]
	if len(payload) > maxRecord {
		return fmt.Errorf("wal: record of %d bytes is over the %d byte limit", len(payload), maxRecord)
	}
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(payload)))
	// The payload's checksum, which the flush extends with the segment number the record lands in (stamp).
	binary.LittleEndian.PutUint32(frame[8:], crc32.Checksum(payload, crcTable))

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.pending = append(w.pending, frame...)
	w.appended++
	my := w.appended
	err := w.waitDurable(my)
	w.mu.Unlock()
	w.m.appendSeconds.Observe(time.Since(t0).Seconds())
	return err
}

// waitDurable makes record number my durable, leading a group flush if nobody is flushing. Called with mu held.
func (w *WAL) waitDurable(my uint64) error {
	for w.done < my && w.err == nil {
		if w.flushing {
			w.cond.Wait()
			continue
		}
		w.flushLocked()
	}
	return w.err
}

// flushLocked writes everything pending (and fsyncs under FsyncAlways), releasing mu during the I/O.
func (w *WAL) flushLocked() {
	w.flushing = true
	buf := w.pending
	upto := w.appended
	w.pending = w.spare[:0]
	f, seg, off := w.f, w.seg, w.segSize
	w.mu.Unlock()

	t0 := time.Now()
	n := len(buf)
	buf = append(buf, make([]byte, frameHeader)...) // the end mark, written over by the next flush
	stamp(buf, seg)
	_, err := f.WriteAt(buf, off)
	if err == nil && w.o.Fsync.interval == 0 {
		err = SyncData(f)
	}
	w.m.fsyncSeconds.Observe(time.Since(t0).Seconds())
	w.m.bytes.Add(float64(n))

	w.mu.Lock()
	w.flushes++
	w.spare = buf[:0]
	w.flushing = false
	if err != nil {
		w.err = fmt.Errorf("wal: writing segment %d: %w", w.seg, err)
		w.log.Error("write-ahead log write failed; appends will fail", "err", err)
	} else {
		w.done = upto
		w.segSize += int64(n)
		if w.segSize >= w.o.SegmentSize {
			if err := w.rotateLocked(); err != nil {
				w.err = err
			}
		}
	}
	w.cond.Broadcast()
}

// stamp writes seg into each frame of buf and extends its payload checksum with it. A rotation can come between a
// record's append and its write, so the segment is known only here.
func stamp(buf []byte, seg int) {
	var sb [4]byte
	binary.LittleEndian.PutUint32(sb[:], uint32(seg))
	for off := 0; off < len(buf); {
		h := buf[off : off+frameHeader]
		copy(h[4:], sb[:])
		binary.LittleEndian.PutUint32(h[8:], crc32.Update(binary.LittleEndian.Uint32(h[8:]), crcTable, sb[:]))
		off += frameHeader + int(binary.LittleEndian.Uint32(h))
	}
}

// rotateLocked closes the current segment (which must have nothing pending) and starts the next.
func (w *WAL) rotateLocked() error {
	if err := SyncData(w.f); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if err := w.openSegment(w.seg + 1); err != nil {
		return err
	}
	w.m.segments.Inc()
	return nil
}

func (w *WAL) syncLoop(d time.Duration) {
	defer close(w.syncDone)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-w.stopSync:
			return
		case <-t.C:
		}
		w.mu.Lock()
		f := w.f
		w.mu.Unlock()
		// Syncing a file that a rotation just closed fails harmlessly: rotation synced it.
		_ = SyncData(f)
	}
}

// Rotate makes everything appended so far durable and starts a new segment, returning its number: every record
// appended before Rotate was called lies in a segment below it. The pipeline calls it when the store seals its
// head, and later passes the number to TruncateBefore once the head is in a block.
func (w *WAL) Rotate() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if err := w.waitDurable(w.appended); err != nil {
		return 0, err
	}
	for w.flushing {
		w.cond.Wait()
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.segSize == int64(len(segMagic)) {
		return w.seg, nil // nothing in the current segment: it already starts the new range
	}
	if err := w.rotateLocked(); err != nil {
		w.err = err
		return 0, err
	}
	return w.seg, nil
}

// TruncateBefore deletes the segments numbered below seg, whose records the store holds in blocks, keeping up to
// maxSpares of them as spares to write later segments over. Appends go on meanwhile.
func (w *WAL) TruncateBefore(seg int) error {
	segs, err := segments(w.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	w.mu.Lock()
	cur, room := w.seg, maxSpares-len(w.spares)
	w.mu.Unlock()
	n := 0
	var kept []int
	for _, i := range segs {
		if i >= seg || i >= cur {
			break
		}
		path := filepath.Join(w.dir, segName(i))
		if len(kept) < room && os.Rename(path, filepath.Join(w.dir, spareName(i))) == nil {
			kept = append(kept, i)
		} else if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("wal: %w", err)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	w.m.segments.Sub(float64(n))
	if err := syncDir(w.dir); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	// Spares only once their renames are durable: a segment written over one must not come back under its old
	// name after a crash.
	w.mu.Lock()
	w.spares = append(w.spares, kept...)
	w.mu.Unlock()
	return nil
}

// Replay reads, oldest first, every record of the segments that existed when the log was opened, starting at
// segment from (0 for all), and calls fn with each record's spans and its segment number. A torn or corrupt record
// ends its segment: the file is truncated there with a logged warning, and replay goes on with the next segment.
// Only an error from fn or an unreadable directory fails Replay.
func (w *WAL) Replay(from int, fn func(seg int, spans []*model.Span) error) error {
	segs, err := segments(w.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	w.mu.Lock()
	cur := w.seg
	w.mu.Unlock()
	for _, i := range segs {
		if i >= cur {
			break
		}
		if i < from {
			continue
		}
		if err := w.replaySegment(i, fn); err != nil {
			return err
		}
	}
	return nil
}

func (w *WAL) replaySegment(i int, fn func(seg int, spans []*model.Span) error) error {
	path := filepath.Join(w.dir, segName(i))
	data, err := os.ReadFile(path)
	if err != nil {
		w.log.Warn("write-ahead log segment unreadable; skipped", "segment", path, "err", err)
		return nil
	}
	off, stamped := 0, bytes.HasPrefix(data, []byte(segMagic))
	if stamped {
		off = len(segMagic)
	}
	records := 0
	for off < len(data) {
		var payload []byte
		var n int
		var why string
		if stamped {
			var end bool
			if payload, n, why, end = readFrame(data[off:], i); end {
				break
			}
		} else {
			payload, n, why = readFrameV1(data[off:])
		}
		if why == "" {
			spans, err := DecodeSpans(payload)
			if err != nil {
				why = err.Error()
			} else {
				if err := fn(i, spans); err != nil {
					return err
				}
				records++
				off += n
				continue
			}
		}
		w.log.Warn("write-ahead log has a torn or corrupt record; truncating the segment there",
			"segment", path, "offset", off, "dropped_bytes", len(data)-off, "reason", why)
		if err := os.Truncate(path, int64(off)); err != nil {
			w.log.Warn("truncating write-ahead log segment failed", "segment", path, "err", err)
		}
		break
	}
	w.log.Debug("replayed write-ahead log segment", "segment", path, "records", records)
	return nil
}

// readFrame checks one frame of segment seg at the start of b; why is "" when it is whole and its checksum
// matches. end is set where the segment's records end cleanly: at the end mark that each flush writes after its
// records, or at a record stamped with an older segment, written in the file's earlier life (a crash just after a
// spare was renamed, before the new segment's header was written). A frame stamped with no segment or a later
// one is damage.
func readFrame(b []byte, seg int) (payload []byte, n int, why string, end bool) {
	if len(b) < frameHeader {
		return nil, 0, "torn frame header", false
	}
	if s := binary.LittleEndian.Uint32(b[4:]); s != 0 && s < uint32(seg) {
		return nil, 0, "", true
	}
	if binary.LittleEndian.Uint32(b) == 0 && binary.LittleEndian.Uint32(b[4:]) == uint32(seg) &&
		binary.LittleEndian.Uint32(b[8:]) == crc32.Checksum(b[4:8], crcTable) {
		return nil, 0, "", true
	}
	l := binary.LittleEndian.Uint32(b)
	if l > maxRecord {
		return nil, 0, fmt.Sprintf("record length %d is impossible", l), false
	}
	if int(l) > len(b)-frameHeader {
		return nil, 0, "torn record", false
	}
	if binary.LittleEndian.Uint32(b[4:]) != uint32(seg) {
		return nil, 0, "record stamped with another segment", false
	}
	payload = b[frameHeader : frameHeader+int(l)]
	crc := crc32.Update(crc32.Checksum(payload, crcTable), crcTable, b[4:8])
	if crc != binary.LittleEndian.Uint32(b[8:]) {
		return nil, 0, "checksum mismatch", false
	}
	return payload, frameHeader + int(l), "", false
}

// readFrameV1 is readFrame for a segment written before segments were recycled.
func readFrameV1(b []byte) (payload []byte, n int, why string) {
	if len(b) < frameHeaderV1 {
		return nil, 0, "torn frame header"
	}
	l := binary.LittleEndian.Uint32(b)
	if l > maxRecord {
		return nil, 0, fmt.Sprintf("record length %d is impossible", l)
	}
	if int(l) > len(b)-frameHeaderV1 {
		return nil, 0, "torn record"
	}
	payload = b[frameHeaderV1 : frameHeaderV1+int(l)]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, "checksum mismatch"
	}
	return payload, frameHeaderV1 + int(l), ""
}

// Close flushes and fsyncs what is pending and closes the current segment. Appends after Close fail.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	err := w.waitDurable(w.appended)
	for w.flushing {
		w.cond.Wait()
	}
	w.closed = true
	f := w.f
	w.mu.Unlock()
	if w.stopSync != nil {
		close(w.stopSync)
		<-w.syncDone
	}
	if e := SyncData(f); err == nil {
		err = e
	}
	if e := f.Close(); err == nil {
		err = e
	}
	return err
}
