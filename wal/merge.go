package wal

import (
	"encoding/binary"
	"math"
)

// StreamWriter appends sets of streams as AppendStreams does, for a run of sets whose streams are alike (a
// block's term chunks): like a ColumnWriter, it tries zstd on a stream only where zstd was the smallest in the set
// before, or in every zstdProbe-th set, and also wherever the stream's bytes take less than two bits each to an
// order-0 coder (skewed enough that zstd's matches may do better). A compaction's term chunks are a few streams
// each, and zstd (at the better level) seldom wins on the posting deltas and never on the duration buckets, which
// are most of their bytes: trying it on every stream of every chunk was most of the cost of writing the index.
// Where it does win on deltas (the dense lists of common terms, mostly deltas of 1), it wins by far, and the
// skew finds those chunks at once.
type StreamWriter struct{ c streamCoder }

// NewStreamWriter returns a writer; better as for AppendStreams.
func NewStreamWriter(better bool) *StreamWriter {
	w := &StreamWriter{}
	w.c.zenc = zstdDefault
	if better {
		w.c.zenc = zstdBetter
	}
	w.c.adaptive = true
	return w
}

// Append appends streams to dst in AppendStreams' form (ReadStreams reads it).
func (w *StreamWriter) Append(dst []byte, streams [][]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(streams)))
	for i, s := range streams {
		idx := i
		if idx >= len(w.c.zstdWon) {
			idx = -1
		} else if !w.c.zstdWon[idx] && len(s) >= 64 && entropyBits(s) < 2 {
			w.c.zstdWon[idx] = true // try it
		}
		dst = w.c.appendStream(dst, s, idx)
	}
	w.c.page++ // every zstdProbe-th set, zstd is tried on every stream
	return dst
}

// entropyBits is the order-0 entropy of b's bytes, in bits a byte.
func entropyBits(b []byte) float64 {
	var count [256]int
	for _, c := range b {
		count[c]++
	}
	n := float64(len(b))
	e := 0.0
	for _, c := range count {
		if c > 0 {
			p := float64(c) / n
			e -= p * math.Log2(p)
		}
	}
	return e
}
