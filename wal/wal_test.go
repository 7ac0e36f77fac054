package wal

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func replayAll(t *testing.T, w *WAL) []*model.Span {
	t.Helper()
	var got []*model.Span
	if err := w.Replay(0, func(_ int, spans []*model.Span) error {
		got = append(got, spans...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func spanIDs(spans []*model.Span) map[model.SpanID]bool {
	m := map[model.SpanID]bool{}
	for _, s := range spans {
		m[s.SpanID] = true
	}
	return m
}

// sameSpans fails unless got holds exactly the spans of want, by span ID.
func sameSpans(t *testing.T, got, want []*model.Span) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d spans, want %d", len(got), len(want))
	}
	ids := spanIDs(got)
	for _, s := range want {
		if !ids[s.SpanID] {
			t.Fatalf("span %s was not replayed", s.SpanID)
		}
	}
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	for _, p := range []FsyncPolicy{FsyncAlways(), FsyncInterval(50 * time.Millisecond)} {
		t.Run(p.String(), func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, Options{Fsync: p, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			g := spangen.New(1, time.Now().UnixNano())
			const writers, each = 16, 40
			batches := make([][]*model.Span, writers*each)
			for i := range batches {
				batches[i] = g.Trace()
			}
			var wg sync.WaitGroup
			for k := 0; k < writers; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						if err := w.Append(context.Background(), batches[k*each+i]); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			w.mu.Lock()
			flushes := w.flushes
			w.mu.Unlock()
			if flushes == 0 || flushes > writers*each {
				t.Fatalf("%d flushes for %d appends", flushes, writers*each)
			}
			t.Logf("%d appends shared %d flushes", writers*each, flushes)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w2, err := Open(dir, Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			defer w2.Close()
			got := spanIDs(replayAll(t, w2))
			for _, b := range batches {
				for _, s := range b {
					if !got[s.SpanID] {
						t.Fatalf("span %s lost", s.SpanID)
					}
				}
			}
		})
	}
}

func TestReplayRotateTruncate(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{Logger: quiet(), SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	g := spangen.New(2, time.Now().UnixNano())
	var first, second []*model.Span
	for i := 0; i < 10; i++ {
		tr := g.Trace()
		first = append(first, tr...)
		if err := w.Append(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
	}
	seg, err := w.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		tr := g.Trace()
		second = append(second, tr...)
		if err := w.Append(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.TruncateBefore(seg); err != nil {
		t.Fatal(err)
	}
	// No Close: a crash.
	w2, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	sameSpans(t, replayAll(t, w2), second) // those appended after the truncation point
	w.Close()
}

// damage appends some records, applies f to the last segment's bytes, and checks that replay keeps exactly the
// records before the damage, warns, and leaves a log that appends and replays cleanly afterwards.
func TestReplayDamagedTail(t *testing.T) {
	tests := []struct {
		name string
		f    func(b []byte) []byte
	}{
		{"torn header", func(b []byte) []byte { return append(b, 5, 0, 0) }},
		{"torn record", func(b []byte) []byte { return b[:len(b)-7] }},
		{"corrupt crc", func(b []byte) []byte { b[len(b)-3] ^= 0xff; return b }},
		{"garbage length", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4) }},
		{"zero fill", func(b []byte) []byte { return append(b, make([]byte, 64)...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			g := spangen.New(3, time.Now().UnixNano())
			var traces [][]*model.Span
			for i := 0; i < 5; i++ {
				tr := g.Trace()
				traces = append(traces, tr)
				if err := w.Append(context.Background(), tr); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			path := filepath.Join(dir, segName(1))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// A crash comes in a write, which starts where the previous one left its end mark.
			b = b[:len(b)-frameHeader]
			if err := os.WriteFile(path, tc.f(b), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			w2, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			got := spanIDs(replayAll(t, w2))
			wantWhole := 5
			if tc.name == "torn record" || tc.name == "corrupt crc" {
				wantWhole = 4
			}
			n := 0
			for _, tr := range traces[:wantWhole] {
				n += len(tr)
				for _, s := range tr {
					if !got[s.SpanID] {
						t.Fatal("an intact record before the damage was lost")
					}
				}
			}
			if len(got) != n {
				t.Fatalf("replayed %d spans, want %d", len(got), n)
			}
			if !bytes.Contains(logs.Bytes(), []byte("torn or corrupt")) {
				t.Fatalf("no warning logged: %s", logs.String())
			}
			// The damaged tail is gone: a second replay is clean.
			logs.Reset()
			if again := replayAll(t, w2); len(again) != n {
				t.Fatalf("second replay: %d spans, want %d", len(again), n)
			}
			if bytes.Contains(logs.Bytes(), []byte("torn or corrupt")) {
				t.Fatal("damage still there after truncation")
			}
			w2.Close()
		})
	}
}

func TestAppendAfterClose(t *testing.T) {
	w, err := Open(t.TempDir(), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	g := spangen.New(4, time.Now().UnixNano())
	if err := w.Append(context.Background(), g.Trace()); !errors.Is(err, ErrClosed) {
		t.Fatalf("err %v, want ErrClosed", err)
	}
}

func TestParseFsync(t *testing.T) {
	tests := []struct {
		in   string
		want FsyncPolicy
		ok   bool
	}{
		{"always", FsyncAlways(), true},
		{"interval", FsyncInterval(100 * time.Millisecond), true},
		{"interval:20ms", FsyncInterval(20 * time.Millisecond), true},
		{"interval:-1s", FsyncPolicy{}, false},
		{"interval:soon", FsyncPolicy{}, false},
		{"sometimes", FsyncPolicy{}, false},
	}
	for _, tc := range tests {
		got, err := ParseFsync(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFsync(%q) = %v, %v", tc.in, got, err)
		}
	}
}
