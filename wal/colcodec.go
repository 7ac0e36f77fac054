package wal

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// How a column page's streams are compressed, each on its own: a stream holds values of one distribution, so an
// order-0 entropy coder (huff0) reaches what zstd's matches cannot on random values (zstd over the whole page
// shares one literal table among all streams, and on a stream alone it stores short random values raw). Each
// stream is written in the smallest of:
//
//	colRaw     the bytes
//	colRLE     one byte repeated
//	colHuff    huff0 (1X) with its table
//	colZstd    a zstd frame (repetitive streams: record headers, kinds)
//	colPlanes  the stream read as varints and split into planes (every value's first byte, then every second
//	           byte of the values that have one, ...), each plane coded as raw, RLE or huff0: the bytes of a
//	           varint at one position share a distribution that a mixed stream blurs
//	colImplied a column page's trace ID stream when it is exactly the IDs the reader is given (the store's trace
//	           table lists the traces of every page, in page order): nothing stored
//
// A stream is a method byte, its decoded length (uvarint), and for colHuff and colZstd the payload's length
// (uvarint) and payload; colRaw's payload is the bytes, colRLE's the byte, colPlanes' the plane count (a byte)
// and the planes as streams.
const (
	colRaw = iota
	colRLE
	colHuff
	colZstd
	colPlanes
	colImplied // column pages' trace IDs, when they are the block's trace table's for the page: no payload

	maxStreamLen = 1 << 28 // a stream's decoded length that a reader accepts
	maxPlanes    = binary.MaxVarintLen64
)

var (
	zstdDefault, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zstdBetter, _  = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	// zstdStreams' DecodeAll stops at the capacity it is given, a stream's announced length: without the limit a
	// few kilobytes of a damaged stream decode to maxStreamLen bytes before the length is compared.
	zstdStreams, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxStreamLen),
		zstd.WithDecodeAllCapLimit(true))
)

var huffScratch = sync.Pool{New: func() any { return new(huff0.Scratch) }}

// streamCoder holds an encoder's reusable buffers.
type streamCoder struct {
	zenc   *zstd.Encoder
	huff   huff0.Scratch
	zbuf   []byte
	planes [maxPlanes][]byte
	// adaptive (a ColumnWriter's coder) tries zstd on a column page's stream only where it was the smallest on
	// the page before, or on every zstdProbe-th page: it rarely is (record headers and the tables, of some
	// eighty streams), and trying it everywhere was most of the cost of writing a page.
	adaptive bool
	page     int
	zstdWon  [colStreams + 2]bool // by stream: the tables, the field streams, the span IDs
	// planesWon, by stream, is set where planes were the smallest on the page before: an adaptive coder then
	// writes planes at once, without huff0 on the whole stream (which nearly always loses to them there: on
	// the load generator's spans, a quarter of the bytes huff0 was given), but on every zstdProbe-th page.
	planesWon [colStreams + 2]bool
}

// zstdProbe is how often (in pages) an adaptive coder tries zstd on every stream again.
const zstdProbe = 8

func allSame(b []byte) bool {
	for _, c := range b {
		if c != b[0] {
			return false
		}
	}
	return true
}

// appendSimple appends s as raw, RLE or huff0, whichever is smallest.
func (c *streamCoder) appendSimple(dst, s []byte) []byte {
	if len(s) > 0 && allSame(s) {
		dst = append(dst, colRLE)
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		return append(dst, s[0])
	}
	if len(s) >= 32 {
		c.huff.Reuse = huff0.ReusePolicyNone
		if out, _, err := huff0.Compress1X(s, &c.huff); err == nil && len(out)+4 < len(s) {
			dst = append(dst, colHuff)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = binary.AppendUvarint(dst, uint64(len(out)))
			return append(dst, out...)
		}
	}
	dst = append(dst, colRaw)
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// splitPlanes splits s, read as varints, into planes; false if s does not read as varints. Only a stream with a
// byte of more than seven bits has more than one plane: one without is told so without being copied.
func (c *streamCoder) splitPlanes(s []byte) (int, bool) {
	if !anyHigh(s) {
		return min(len(s), 1), true
	}
	for i := range c.planes {
		c.planes[i] = c.planes[i][:0]
	}
	np, k := 0, 0
	for _, b := range s {
		if k == maxPlanes {
			return 0, false
		}
		c.planes[k] = append(c.planes[k], b)
		np = max(np, k+1)
		if b&0x80 != 0 {
			k++
		} else {
			k = 0
		}
	}
	return np, k == 0
}

// anyHigh reports whether a byte of s has its top bit set, eight bytes at a time.
func anyHigh(s []byte) bool {
	for ; len(s) >= 8; s = s[8:] {
		if binary.LittleEndian.Uint64(s)&0x8080808080808080 != 0 {
			return true
		}
	}
	for _, b := range s {
		if b >= 0x80 {
			return true
		}
	}
	return false
}

// appendStream appends s in the smallest of the methods above; idx is the stream's place in a column page (see
// streamCoder.adaptive), or -1.
func (c *streamCoder) appendStream(dst, s []byte, idx int) []byte {
	start := len(dst)
	adaptive := c.adaptive && idx >= 0
	if adaptive && c.planesWon[idx] && !c.zstdWon[idx] && c.page%zstdProbe != 0 && len(s) >= 64 && !allSame(s) {
		if np, ok := c.splitPlanes(s); ok && np > 1 {
			return c.appendPlanes(dst, s, np)
		}
	}
	dst = c.appendSimple(dst, s)
	if len(s) < 64 || dst[start] == colRLE {
		if adaptive {
			c.planesWon[idx] = false
		}
		return dst
	}
	best := dst[start:]
	if adaptive && !c.zstdWon[idx] && c.page%zstdProbe != 0 {
		// zstd lost here on the page before: planes are still tried below.
	} else if c.zbuf = c.zenc.EncodeAll(s, c.zbuf[:0]); len(c.zbuf)+8 < len(best) {
		dst = append(dst[:start], colZstd)
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = binary.AppendUvarint(dst, uint64(len(c.zbuf)))
		dst = append(dst, c.zbuf...)
		best = dst[start:]
	}
	if np, ok := c.splitPlanes(s); ok && np > 1 {
		alt := c.appendPlanes(make([]byte, 0, len(best)), s, np)
		if len(alt) < len(best) {
			dst = append(dst[:start], alt...)
		}
	}
	if adaptive {
		c.zstdWon[idx] = dst[start] == colZstd
		c.planesWon[idx] = dst[start] == colPlanes
	}
	return dst
}

// appendPlanes appends s as the np planes splitPlanes just made of it.
func (c *streamCoder) appendPlanes(dst, s []byte, np int) []byte {
	dst = append(dst, colPlanes)
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	dst = append(dst, byte(np))
	for i := range np {
		dst = c.appendSimple(dst, c.planes[i])
	}
	return dst
}

// readStream reads one stream from d; planes are allowed at top level. budget is what the page's streams (or,
// for a plane, the stream's other planes) may still decode to, and is charged with this stream's length: a few
// bytes of a damaged page must not announce gigabytes.
func readStream(d *decoder, top bool, budget *uint64, implied []byte) []byte {
	m := d.byte1("stream method")
	n := d.uvarint("stream length")
	if d.err == nil && n > *budget {
		d.fail(fmt.Sprintf("stream of %d bytes", n))
	}
	if d.err == nil {
		*budget -= n
	}
	if d.err != nil {
		return nil
	}
	switch m {
	case colRaw:
		if n > uint64(len(d.b)) {
			d.fail("stream exceeds the data")
			return nil
		}
		out := d.b[:n:n]
		d.b = d.b[n:]
		return out
	case colRLE:
		b := d.byte1("stream byte")
		if d.err != nil {
			return nil
		}
		out := make([]byte, n)
		for i := range out {
			out[i] = b
		}
		return out
	case colHuff, colZstd:
		payload := d.section("compressed stream")
		if d.err != nil {
			return nil
		}
		var out []byte
		var err error
		if m == colZstd {
			out, err = zstdStreams.DecodeAll(payload, make([]byte, 0, n))
		} else if n > huff0.BlockSizeMax {
			err = fmt.Errorf("huff0 stream of %d bytes", n)
		} else {
			// A scratch (its decoding table and output buffer) from the pool: building them anew for every
			// stream cost as much as the decoding.
			s := huffScratch.Get().(*huff0.Scratch)
			s, payload, err = huff0.ReadTable(payload, s)
			if err == nil {
				s.MaxDecodedSize = int(n)
				out, err = s.Decompress1X(payload)
				out = append(make([]byte, 0, n), out...)
			}
			huffScratch.Put(s)
		}
		if err == nil && uint64(len(out)) != n {
			err = fmt.Errorf("%d bytes, %d announced", len(out), n)
		}
		if err != nil {
			d.fail("compressed stream: " + err.Error())
			return nil
		}
		return out
	case colPlanes:
		np := int(d.byte1("plane count"))
		if !top || np > maxPlanes || np < 1 {
			d.fail("planes")
			return nil
		}
		// The planes share the stream's length: each charged to it, they cannot announce more than it in all.
		var planes [maxPlanes][]byte
		left, want := n, n
		for i := range np {
			planes[i] = readStream(d, false, &left, nil)
		}
		if d.err == nil && left != 0 {
			d.fail("planes do not add up")
		}
		if d.err != nil {
			return nil
		}
		// The planes' bytes add up to want, so out is filled exactly when every plane is used up.
		out := make([]byte, want)
		var at [maxPlanes]int
		o := 0
		for _, b := range planes[0] {
			out[o] = b
			o++
			for k := 1; b&0x80 != 0; k++ {
				if k == np || at[k] == len(planes[k]) {
					d.fail("plane ends inside a value")
					return nil
				}
				b = planes[k][at[k]]
				at[k]++
				out[o] = b
				o++
			}
		}
		for k := 1; k < np; k++ {
			if at[k] != len(planes[k]) {
				d.fail("bytes left in a plane")
				return nil
			}
		}
		return out
	case colImplied:
		if implied == nil || uint64(len(implied)) != n {
			d.fail(fmt.Sprintf("column page: %d bytes of trace IDs implied, %d given", n, len(implied)))
			return nil
		}
		return implied
	default:
		d.fail(fmt.Sprintf("unknown stream method %d", m))
		return nil
	}
}

// AppendStreams appends streams to dst, each compressed on its own in the smallest of the methods above (the
// store's index chunks and trace table: posting-list deltas, term texts and duration buckets apart). better uses
// zstd's better level where zstd is the smallest.
func AppendStreams(dst []byte, streams [][]byte, better bool) []byte {
	c := &streamCoder{zenc: zstdDefault}
	if better {
		c.zenc = zstdBetter
	}
	dst = binary.AppendUvarint(dst, uint64(len(streams)))
	for _, s := range streams {
		dst = c.appendStream(dst, s, -1)
	}
	return dst
}

// ReadStreams reads what AppendStreams wrote: want streams, decoding to at most maxBytes in all. The streams
// may share b's memory.
func ReadStreams(b []byte, want int, maxBytes uint64) ([][]byte, error) {
	d := &decoder{b: b}
	if n := d.uvarint("stream count"); d.err == nil && n != uint64(want) {
		d.fail(fmt.Sprintf("%d streams, want %d", n, want))
	}
	out := make([][]byte, want)
	for i := 0; i < want && d.err == nil; i++ {
		out[i] = readStream(d, true, &maxBytes, nil)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d bytes after the streams", len(d.b)))
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}
