package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
)

func appendTraces(t testing.TB, w *WAL, g *spangen.Generator, n int) []*model.Span {
	t.Helper()
	var all []*model.Span
	for range n {
		tr := g.Trace()
		all = append(all, tr...)
		if err := w.Append(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// TestRecycledSegmentReplaysOnlyItsOwnRecords writes a segment, lets it go, and checks that the next segment but
// one is written over it, and that replay then gives that segment's records and none of the earlier ones still in
// the file past them, without a warning.
func TestRecycledSegmentReplaysOnlyItsOwnRecords(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	g := spangen.New(4, time.Now().UnixNano())
	appendTraces(t, w, g, 40) // segment 1, many records
	old, err := os.ReadFile(filepath.Join(dir, segName(1)))
	if err != nil {
		t.Fatal(err)
	}
	seg, err := w.Rotate() // segment 2
	if err != nil {
		t.Fatal(err)
	}
	if err := w.TruncateBefore(seg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, spareName(1))); err != nil {
		t.Fatalf("segment 1 was not kept as a spare: %v", err)
	}
	want := appendTraces(t, w, g, 1)
	if _, err := w.Rotate(); err != nil { // segment 3, on segment 1's file
		t.Fatal(err)
	}
	want = append(want, appendTraces(t, w, g, 1)...)
	w.Close()

	b, err := os.ReadFile(filepath.Join(dir, segName(3)))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(old) || bytes.Equal(b, old) {
		t.Fatalf("segment 3 is %d bytes, segment 1 was %d: it was not written over segment 1's file", len(b), len(old))
	}
	if _, err := os.Stat(filepath.Join(dir, spareName(1))); !os.IsNotExist(err) {
		t.Fatalf("the spare is still there after its reuse: %v", err)
	}

	var logs bytes.Buffer
	w2, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	sameSpans(t, replayAll(t, w2), want) // none of the recycled file's earlier records
	if logs.Len() > 0 {
		t.Fatalf("replaying a recycled segment logged: %s", logs.String())
	}
}

// TestRecycledSegmentBeforeItsFirstWrite is a crash just after a spare got its new name: the file holds only
// another segment's records, and replays as empty.
func TestRecycledSegmentBeforeItsFirstWrite(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	appendTraces(t, w, spangen.New(3, time.Now().UnixNano()), 5)
	w.Close()
	b, err := os.ReadFile(filepath.Join(dir, segName(1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, segName(1)), filepath.Join(dir, segName(7))); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	w2, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if got := replayAll(t, w2); len(got) != 0 {
		t.Fatalf("replayed %d spans of another segment's records", len(got))
	}
	if logs.Len() > 0 {
		t.Fatalf("logged: %s", logs.String())
	}
	if after, _ := os.ReadFile(filepath.Join(dir, segName(7))); !bytes.Equal(after, b) {
		t.Fatal("the file was changed by replay")
	}
}

// TestReplayUnstampedSegment reads a segment in the form written before segments were recycled (no header; each
// frame its length and the payload's checksum).
func TestReplayUnstampedSegment(t *testing.T) {
	dir := t.TempDir()
	g := spangen.New(3, time.Now().UnixNano())
	var want []*model.Span
	var file []byte
	for range 3 {
		tr := g.Trace()
		want = append(want, tr...)
		p := Encode(tr).Payload()
		file = binary.LittleEndian.AppendUint32(file, uint32(len(p)))
		file = binary.LittleEndian.AppendUint32(file, crc32.Checksum(p, crcTable))
		file = append(file, p...)
	}
	if err := os.WriteFile(filepath.Join(dir, segName(1)), file, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	sameSpans(t, replayAll(t, w), want)
}

// TestSparesAreBounded lets more segments go than are kept as spares: the rest are deleted.
func TestSparesAreBounded(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	g := spangen.New(2, time.Now().UnixNano())
	var seg int
	for range maxSpares + 3 {
		appendTraces(t, w, g, 1)
		if seg, err = w.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.TruncateBefore(seg); err != nil {
		t.Fatal(err)
	}
	spares, err := numbered(dir, spareSuffix)
	if err != nil {
		t.Fatal(err)
	}
	segs, _ := segments(dir)
	if len(spares) != maxSpares || len(segs) != 1 {
		t.Fatalf("%d spares and %d segments, want %d and 1", len(spares), len(segs), maxSpares)
	}
}

// FuzzReplaySegment replays arbitrary bytes as segment 3, stamped (with the header) and not: nothing panics, and
// a replay of what the first one left behind is clean.
func FuzzReplaySegment(f *testing.F) {
	dir := f.TempDir()
	w, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		f.Fatal(err)
	}
	appendTraces(f, w, spangen.New(2, 1), 2)
	w.Close()
	whole, err := os.ReadFile(filepath.Join(dir, segName(1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add([]byte(segMagic))
	f.Add(append([]byte(segMagic), 0, 0, 0, 0, 3, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, data := range [][]byte{b, append([]byte(segMagic), b...)} {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, segName(3)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := Open(dir, Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			first := len(replayAll(t, w))
			var logs bytes.Buffer
			w.log = slog.New(slog.NewTextHandler(&logs, nil))
			if again := len(replayAll(t, w)); again != first || logs.Len() > 0 {
				t.Fatalf("second replay gave %d spans (first %d) and logged %q", again, first, logs.String())
			}
			w.Close()
		}
	})
}

// TestRecyclingRounds runs rounds of concurrent appends, rotations and truncations, so that segments are written
// over spares again and again, some with more records than the spare had and some with fewer, then stops without
// Close (a crash) and checks that replay from the last truncation point gives exactly the records appended since.
func TestRecyclingRounds(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Logger: quiet(), SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	g := spangen.New(9, time.Now().UnixNano())
	var since []*model.Span // appended since the last truncation point
	from := 0
	for round := range 13 {
		traces := make([][]*model.Span, 4+round%5*3)
		for i := range traces {
			traces[i] = g.Trace()
		}
		var wg sync.WaitGroup
		for _, tr := range traces {
			wg.Go(func() {
				if err := w.Append(context.Background(), tr); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for _, tr := range traces {
			since = append(since, tr...)
		}
		if round%3 == 2 {
			seg, err := w.Rotate()
			if err != nil {
				t.Fatal(err)
			}
			if err := w.TruncateBefore(seg); err != nil {
				t.Fatal(err)
			}
			since, from = nil, seg
		}
	}
	if spares, _ := numbered(dir, spareSuffix); len(spares) == 0 {
		t.Fatal("no spares: nothing was recycled")
	}
	w2, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	var got []*model.Span
	if err := w2.Replay(from, func(_ int, spans []*model.Span) error {
		got = append(got, spans...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sameSpans(t, got, since) // appended since the last truncation point
	w.Close()
}
