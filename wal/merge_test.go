package wal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestStreamWriter writes runs of alike sets of streams (on which zstd wins, loses, wins for a while, or wins by
// far on one set now and then) and reads every set back with ReadStreams; the sets are at most a few percent
// larger than AppendStreams makes them, and the skewed sets no larger.
func TestStreamWriter(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	text := func(n int) []byte { // repetitive: zstd's
		var b []byte
		for len(b) < n {
			b = fmt.Appendf(b, "Ahttp.route\x00/api/v%d/items/%d", r.IntN(3), r.IntN(50))
		}
		return b[:n]
	}
	noise := func(n int) []byte { // small random bytes: huff0's
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(16))
		}
		return b
	}
	skewed := func(n int) []byte { // mostly ones, as the posting deltas of a common term
		b := bytes.Repeat([]byte{1}, n)
		for range n / 50 {
			b[r.IntN(n)] = byte(2 + r.IntN(3))
		}
		return b
	}
	for _, better := range []bool{false, true} {
		w := NewStreamWriter(better)
		var got, want int
		var dst []byte
		for set := range 40 {
			streams := [][]byte{text(2000 + r.IntN(2000)), noise(5000), nil, bytes.Repeat([]byte{3}, 100)}
			skew := false
			switch {
			case set >= 15 && set < 30:
				streams[1] = text(5000) // zstd wins for a while where it lost before (and then loses again)
			case set%7 == 3:
				streams[1], skew = skewed(5000), true // now and then: zstd wins by far on one set
			}
			dst = w.Append(dst[:0], streams)
			ref := AppendStreams(nil, streams, better)
			got, want = got+len(dst), want+len(ref)
			if skew && len(dst) > len(ref) {
				t.Errorf("better=%v set %d (skewed): %d bytes, AppendStreams %d", better, set, len(dst), len(ref))
			}
			back, err := ReadStreams(dst, len(streams), 1<<20)
			if err != nil {
				t.Fatalf("better=%v set %d: %v", better, set, err)
			}
			for i := range streams {
				if !bytes.Equal(back[i], streams[i]) {
					t.Fatalf("better=%v set %d stream %d: read back differs", better, set, i)
				}
			}
		}
		if got > want+want/20 {
			t.Errorf("better=%v: %d bytes, AppendStreams %d", better, got, want)
		}
	}
}
