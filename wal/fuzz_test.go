package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
)

// allocated is the bytes f allocates.
func allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// allocLimit is the most ReadStreams may allocate reading b within budget: the streams, and a little more per
// byte of input and for the decoders' state.
func allocLimit(b []byte, budget uint64) uint64 { return 2*budget + 64*uint64(len(b)) + 1<<20 }

// bombs are a few bytes that announce far more than they hold: a zstd stream said to be 10 bytes long whose frame
// decodes to 16 MiB, and nine planes of budget bytes each for a stream of budget bytes.
func bombs(budget uint64) [][]byte {
	zs := binary.AppendUvarint(nil, 1)
	zs = append(zs, colZstd)
	zs = binary.AppendUvarint(zs, 10)
	frame := zstdDefault.EncodeAll(bytes.Repeat([]byte{7}, 16<<20), nil)
	zs = binary.AppendUvarint(zs, uint64(len(frame)))
	zs = append(zs, frame...)

	pl := binary.AppendUvarint(nil, 1)
	pl = append(pl, colPlanes)
	pl = binary.AppendUvarint(pl, budget)
	pl = append(pl, 9)
	for range 9 {
		pl = append(pl, colRLE)
		pl = binary.AppendUvarint(pl, budget)
		pl = append(pl, 0x80)
	}
	return [][]byte{zs, pl}
}

// TestReadStreamsAllocation: a damaged stream is refused before it makes ReadStreams allocate more than its
// budget (a zstd frame decoded past the stream's length, planes each as long as the whole stream).
func TestReadStreamsAllocation(t *testing.T) {
	const budget = 4 << 20
	for i, b := range bombs(budget) {
		var err error
		n := allocated(func() { _, err = ReadStreams(b, 1, budget) })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("bomb %d: %v, want ErrCorrupt", i, err)
		}
		if n > allocLimit(b, budget) {
			t.Errorf("bomb %d: %d bytes allocated reading %d bytes within a budget of %d", i, n, len(b), budget)
		}
	}
}

// FuzzReadStreams: the store reads its index chunks and trace tables with ReadStreams. Whatever the bytes,
// it gives want streams decoding to no more than the budget, or an ErrCorrupt, and allocates little more than
// the budget either way; what it gives is written again by AppendStreams and read back the same.
func FuzzReadStreams(f *testing.F) {
	var varints []byte
	for i := range 500 {
		varints = append(varints, byte(i*37)|0x80, byte(i))
	}
	for _, streams := range [][][]byte{
		{nil, {}, {7}, bytes.Repeat([]byte{3}, 1000)},
		{varints, []byte("hello, hello, hello, hello, hello, hello, hello, hello, hello, hello")},
		{bytes.Repeat([]byte("ab"), 300)},
	} {
		for _, better := range []bool{false, true} {
			f.Add(AppendStreams(nil, streams, better), uint8(len(streams)))
		}
	}
	f.Add([]byte{1, colPlanes, 4, 2, colRaw, 2, 0x81, 0x01, colRaw, 2, 1, 2}, uint8(1))
	const budget = 1 << 20
	for _, b := range bombs(budget) {
		f.Add(b, uint8(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, want uint8) {
		var got [][]byte
		var err error
		if n := allocated(func() { got, err = ReadStreams(b, int(want), budget) }); n > allocLimit(b, budget) {
			t.Fatalf("%d bytes allocated reading %d bytes within a budget of %d", n, len(b), budget)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if got != nil {
				t.Fatalf("%d streams returned with %v", len(got), err)
			}
			return
		}
		if len(got) != int(want) {
			t.Fatalf("%d streams, want %d", len(got), want)
		}
		total := 0
		for _, s := range got {
			total += len(s)
		}
		if total > budget {
			t.Fatalf("streams decode to %d bytes, over the budget of %d", total, budget)
		}
		again, err := ReadStreams(AppendStreams(nil, got, false), int(want), budget)
		if err != nil {
			t.Fatalf("re-encoded streams do not read: %v", err)
		}
		for i := range got {
			if !bytes.Equal(again[i], got[i]) {
				t.Fatalf("stream %d changed on re-encoding: %d bytes became %d", i, len(got[i]), len(again[i]))
			}
		}
	})
}
