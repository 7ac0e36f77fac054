package wal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadStreams: the store reads its index chunks and trace tables with ReadStreams. Whatever the bytes,
// it gives want streams decoding to no more than the budget, or an ErrCorrupt; what it gives is written again
// by AppendStreams and read back the same.
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
	f.Fuzz(func(t *testing.T, b []byte, want uint8) {
		const budget = 1 << 20
		got, err := ReadStreams(b, int(want), budget)
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
