package hexword

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestOf(t *testing.T) {
	xs := []uint32{0, 1, 9, 10, 15, 16, 0xabcdef01, 0x7fffffff, 0x80000000, 0xffffffff}
	for range 10000 {
		xs = append(xs, rand.Uint32())
	}
	var b [8]byte
	for _, x := range xs {
		binary.LittleEndian.PutUint64(b[:], Of(x))
		if got, want := string(b[:]), fmt.Sprintf("%08x", x); got != want {
			t.Fatalf("Of(%#x) = %q, want %q", x, got, want)
		}
	}
}
