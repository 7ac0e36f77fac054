package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/store/embedded"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

type stack struct {
	w *wal.WAL
	s *embedded.Store
	p *Pipeline
}

func open(t testing.TB, dir string, so embedded.Options, po Options, fsync wal.FsyncPolicy) stack {
	t.Helper()
	so.Logger, po.Logger = quiet(), quiet()
	w, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{Fsync: fsync, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := embedded.Open(filepath.Join(dir, "blocks"), so)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(w, s, po)
	if err != nil {
		t.Fatal(err)
	}
	return stack{w, s, p}
}

// crash stops the pipeline's background work without flushing anything, as if the process died.
func (st stack) crash() {
	close(st.p.stop)
	<-st.p.done
}

func checkPresent(t *testing.T, s store.Reader, traces [][]*model.Span) {
	t.Helper()
	for _, tr := range traces {
		got, err := s.Trace(ctx, tr[0].TraceID)
		if err != nil {
			t.Fatalf("acknowledged trace %s: %v", tr[0].TraceID, err)
		}
		if len(got) != len(tr) {
			t.Fatalf("acknowledged trace %s: %d spans, want %d", tr[0].TraceID, len(got), len(tr))
		}
	}
}

// segmentsIn counts the log's segments (not its spares, kept to be written over).
func segmentsIn(t *testing.T, dir string) int {
	ents, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".wal") {
			n++
		}
	}
	return n
}

func TestCloseFlushesAndReopens(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir, embedded.Options{CompactInterval: -1}, Options{}, wal.FsyncAlways())
	g := spangen.New(1, time.Now().UnixNano())
	var traces [][]*model.Span
	for i := 0; i < 50; i++ {
		tr := g.Trace()
		traces = append(traces, tr)
		if err := st.p.Consume(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	checkPresent(t, st.s, traces)
	if err := st.p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.p.Consume(ctx, g.Trace()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Consume after Close: %v", err)
	}
	st.s.Close()
	if n := segmentsIn(t, dir); n != 1 {
		t.Fatalf("%d log segments after a clean close, want 1 (the empty current one)", n)
	}
	st2 := open(t, dir, embedded.Options{CompactInterval: -1}, Options{}, wal.FsyncAlways())
	defer st2.s.Close()
	defer st2.p.Close()
	checkPresent(t, st2.s, traces)
}

func TestCrashInProcess(t *testing.T) {
	for _, fsync := range []wal.FsyncPolicy{wal.FsyncAlways(), wal.FsyncInterval(20 * time.Millisecond)} {
		t.Run(fsync.String(), func(t *testing.T) {
			dir := t.TempDir()
			so := embedded.Options{CompactInterval: -1, BlockSpans: 3000}
			st := open(t, dir, so, Options{CutCheck: 5 * time.Millisecond}, fsync)
			g := spangen.New(2, time.Now().UnixNano())
			var mu sync.Mutex
			var acked [][]*model.Span
			var wg sync.WaitGroup
			for k := 0; k < 4; k++ {
				wg.Add(1)
				trs := make([][]*model.Span, 60)
				for i := range trs {
					trs[i] = g.Trace()
				}
				go func() {
					defer wg.Done()
					for i, tr := range trs {
						if err := st.p.Consume(ctx, tr); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						acked = append(acked, tr)
						mu.Unlock()
						// The background loop cuts too, but the load may end before it looks: one writer cuts in
						// the middle of it, as the loop would, so that truncation is always exercised.
						if k == 0 && i == len(trs)/2 {
							if err := st.p.Cut(); err != nil {
								t.Error(err)
							}
						}
					}
				}()
			}
			wg.Wait()
			st.crash()
			st2 := open(t, dir, so, Options{}, fsync)
			defer st2.s.Close()
			defer st2.p.Close()
			checkPresent(t, st2.s, acked)
			if st2.s.WALCheckpoint() == 0 {
				t.Fatal("no block was cut during the load: the test did not exercise truncation")
			}
		})
	}
}

// TestConsumeBatch: spans encoded into a batch as they are decoded are as durable as Consume's: after a crash
// the log replays every acknowledged trace whole. A batch that does not hold exactly the spans handed over (a
// receiver's mistake) is not trusted: those spans are encoded again.
func TestConsumeBatch(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir, embedded.Options{CompactInterval: -1}, Options{CutCheck: time.Hour}, wal.FsyncAlways())
	g := spangen.New(4, time.Now().UnixNano())
	var traces [][]*model.Span
	for i := range 30 {
		tr := g.Trace()
		traces = append(traces, tr)
		b := st.p.NewBatch()
		add := tr
		if i%10 == 9 {
			add = tr[:len(tr)-1] // one span short
		}
		for _, s := range add {
			b.Add(s)
		}
		if err := st.p.ConsumeBatch(ctx, tr, b); err != nil {
			t.Fatal(err)
		}
	}
	checkPresent(t, st.s, traces)
	st.crash()
	st.s.Close()
	st2 := open(t, dir, embedded.Options{CompactInterval: -1}, Options{}, wal.FsyncAlways())
	defer st2.s.Close()
	defer st2.p.Close()
	checkPresent(t, st2.s, traces)
}

func TestOverloadStoresNothing(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir, embedded.Options{CompactInterval: -1}, Options{MaxPendingSpans: 100, RetryAfter: 3 * time.Second, CutCheck: time.Hour}, wal.FsyncAlways())
	defer st.s.Close()
	defer st.p.Close()
	g := spangen.New(3, time.Now().UnixNano())
	for st.s.Pending() < 100 {
		if err := st.p.Consume(ctx, g.Trace()); err != nil {
			t.Fatal(err)
		}
	}
	tr := g.Trace()
	// Admit, asked before a request is read, refuses exactly as Consume does.
	if err := st.p.Admit(ctx); !errors.Is(err, ingest.ErrOverloaded) {
		t.Fatalf("Admit: %v, want overload while %d spans are pending", err, st.s.Pending())
	}
	err := st.p.Consume(ctx, tr)
	var oe *ingest.OverloadError
	if !errors.As(err, &oe) || !errors.Is(err, ingest.ErrOverloaded) || oe.RetryAfter != 3*time.Second {
		t.Fatalf("err %v, want an OverloadError with a 3s hint", err)
	}
	if _, err := st.s.Trace(ctx, tr[0].TraceID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request was stored: %v", err)
	}
	// Once the head is in a block there is room again.
	if err := st.p.Cut(); err != nil {
		t.Fatal(err)
	}
	if err := st.p.Admit(ctx); err != nil {
		t.Fatalf("Admit after the cut: %v", err)
	}
	if err := st.p.Consume(ctx, tr); err != nil {
		t.Fatal(err)
	}
}

// TestAdmitWaitsForRoom: while the pending bound is reached, Admit holds a request until a cut writes the head
// and makes room, and takes it then; a request whose context ends stops waiting and is refused.
func TestAdmitWaitsForRoom(t *testing.T) {
	st := open(t, t.TempDir(), embedded.Options{CompactInterval: -1},
		Options{MaxPendingSpans: 100, AdmitWait: time.Hour, CutCheck: time.Hour}, wal.FsyncAlways())
	defer st.s.Close()
	defer st.p.Close()
	g := spangen.New(6, time.Now().UnixNano())
	for st.s.Pending() < 100 {
		if err := st.p.Consume(ctx, g.Trace()); err != nil {
			t.Fatal(err)
		}
	}
	// A request that gives up.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.p.Admit(gone); !errors.Is(err, ingest.ErrOverloaded) {
		t.Fatalf("Admit with its context ended: %v, want overload", err)
	}
	// A request that waits: it is held (the gauge shows it) until the cut, then admitted.
	admitted := make(chan error, 1)
	go func() { admitted <- st.p.Admit(ctx) }()
	for st.p.waiting.Load() != 1 {
		select {
		case err := <-admitted:
			t.Fatalf("Admit returned %v while %d spans were pending, before any cut", err, st.s.Pending())
		default:
			time.Sleep(time.Millisecond)
		}
	}
	if err := st.p.Cut(); err != nil {
		t.Fatal(err)
	}
	if err := <-admitted; err != nil {
		t.Fatalf("Admit after the cut made room: %v", err)
	}
	if n := st.p.waiting.Load(); n != 0 {
		t.Fatalf("%d requests still counted as waiting", n)
	}
}

// TestCutAtAQuarterOfThePendingBound: the background loop cuts the head once it holds a quarter of
// MaxPendingSpans, so that it is written while the next head fills, rather than when it reaches the store's block
// size (or half the bound, which would keep twice the spans in memory).
func TestCutAtAQuarterOfThePendingBound(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir, embedded.Options{CompactInterval: -1, BlockSpans: 1 << 30},
		Options{MaxPendingSpans: 400, CutCheck: time.Millisecond}, wal.FsyncAlways())
	defer st.s.Close()
	defer st.p.Close()
	g := spangen.New(5, time.Now().UnixNano())
	for n := 0; n < 100; {
		tr := g.Trace()
		if n+len(tr) >= 200 {
			continue // stay under half the bound
		}
		if err := st.p.Consume(ctx, tr); err != nil {
			t.Fatal(err)
		}
		n += len(tr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for st.s.Pending() >= 100 {
		if time.Now().After(deadline) {
			t.Fatalf("%d spans still pending: the head was not cut at a quarter of the bound", st.s.Pending())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestInFlightBound(t *testing.T) {
	st := open(t, t.TempDir(), embedded.Options{CompactInterval: -1}, Options{MaxInFlightBytes: 1}, wal.FsyncAlways())
	defer st.s.Close()
	defer st.p.Close()
	g := spangen.New(4, time.Now().UnixNano())
	// One request alone is always admitted, however big, or it could never be taken.
	if err := st.p.Admit(ctx); err != nil {
		t.Fatalf("Admit with nothing in flight: %v", err)
	}
	if err := st.p.Consume(ctx, g.Trace()); err != nil {
		t.Fatal(err)
	}
	st.p.inflight.Add(10) // another request in flight
	defer st.p.inflight.Add(-10)
	if err := st.p.Admit(ctx); !errors.Is(err, ingest.ErrOverloaded) {
		t.Fatalf("Admit: %v, want overload", err)
	}
	if err := st.p.Consume(ctx, g.Trace()); !errors.Is(err, ingest.ErrOverloaded) {
		t.Fatalf("err %v, want overload", err)
	}
}

// dropService is a stand-in for tail sampling at the seam between log and store.
type dropService struct {
	next    store.Writer
	service string
}

func (d dropService) Write(ctx context.Context, spans []*model.Span) error {
	kept := make([]*model.Span, 0, len(spans))
	for _, s := range spans {
		if s.Service() != d.service {
			kept = append(kept, s)
		}
	}
	return d.next.Write(ctx, kept)
}

func TestStageSitsBetweenLogAndStore(t *testing.T) {
	st := open(t, t.TempDir(), embedded.Options{CompactInterval: -1},
		Options{Stage: func(next store.Writer) store.Writer { return dropService{next, "frontend"} }}, wal.FsyncAlways())
	defer st.s.Close()
	defer st.p.Close()
	g := spangen.New(5, time.Now().UnixNano())
	for i := 0; i < 20; i++ {
		if err := st.p.Consume(ctx, g.Trace()); err != nil {
			t.Fatal(err)
		}
	}
	svcs, _ := st.s.Services(ctx)
	for _, s := range svcs {
		if s == "frontend" {
			t.Fatal("the stage did not see the spans")
		}
	}
	if len(svcs) == 0 {
		t.Fatal("nothing reached the store")
	}
}

// TestKill9 runs a loaded pipeline in a child process (this test binary, re-executed), kills it with SIGKILL at
// an arbitrary moment, reopens its directory and checks that every trace the child saw acknowledged is there.
// The child notes a trace in a side file only after Consume returned nil for it.
func TestKill9(t *testing.T) {
	if os.Getenv("WEFT_KILL9_CHILD") != "" {
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	for _, policy := range []string{"always", "interval"} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.v")
			cmd.Env = append(os.Environ(), "WEFT_KILL9_CHILD="+dir, "WEFT_KILL9_FSYNC="+policy)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ackPath := filepath.Join(dir, "acked")
			deadline := time.Now().Add(40 * time.Second)
			for {
				if st, err := os.Stat(ackPath); err == nil && st.Size() > 40_000 {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("child acknowledged too little in time:\n%s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Duration(time.Now().UnixNano()%300) * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			acked := readAcked(t, ackPath)
			st := open(t, dir, embedded.Options{CompactInterval: -1}, Options{}, wal.FsyncAlways())
			defer st.s.Close()
			defer st.p.Close()
			for id, n := range acked {
				got, err := st.s.Trace(ctx, id)
				if err != nil || len(got) != n {
					t.Fatalf("acknowledged trace %s: %d spans (err %v), want %d; %d traces acknowledged",
						id, len(got), err, n, len(acked))
				}
			}
			t.Logf("%d acknowledged traces all present after SIGKILL; blocks checkpoint at log segment %d",
				len(acked), st.s.WALCheckpoint())
		})
	}
}

func readAcked(t *testing.T, path string) map[model.TraceID]int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acked := map[model.TraceID]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, n, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue // the last line, torn by the kill
		}
		tid, err := model.ParseTraceID(id)
		cnt, err2 := strconv.Atoi(n)
		if err != nil || err2 != nil || len(id) != 32 {
			continue
		}
		acked[tid] = cnt
	}
	return acked
}

// TestKill9Child is the child of TestKill9; it does nothing unless started by it.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv("WEFT_KILL9_CHILD")
	if dir == "" {
		t.Skip("only runs as TestKill9's child")
	}
	fsync := wal.FsyncAlways()
	if os.Getenv("WEFT_KILL9_FSYNC") == "interval" {
		fsync = wal.FsyncInterval(50 * time.Millisecond)
	}
	so := embedded.Options{BlockSpans: 4000, CompactInterval: 100 * time.Millisecond, CompactFanIn: 3}
	st := open(t, dir, so, Options{CutCheck: 10 * time.Millisecond}, fsync)
	ack, err := os.OpenFile(filepath.Join(dir, "acked"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := spangen.New(uint64(100+k), time.Now().UnixNano())
			for {
				tr := g.Trace()
				if err := st.p.Consume(ctx, tr); err != nil {
					if errors.Is(err, ingest.ErrOverloaded) {
						time.Sleep(time.Millisecond)
						continue
					}
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Fprintf(ack, "%s %d\n", tr[0].TraceID, len(tr))
				mu.Unlock()
			}
		}()
	}
	wg.Wait() // until killed
}
