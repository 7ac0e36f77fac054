package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/otlp"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/store/embedded"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

// countReleases passes batches on to the pipeline and counts those it released.
type countReleases struct {
	*Pipeline
	released, kept atomic.Int64
}

func (c *countReleases) ConsumeBatch(ctx context.Context, spans []*model.Span, b ingest.Batch) error {
	err := c.Pipeline.ConsumeBatch(ctx, spans, b)
	if ingest.Released(b) {
		c.released.Add(1)
	} else {
		c.kept.Add(1)
	}
	return err
}

// spanText is a span with everything it points at.
func spanText(s *model.Span) string {
	c := *s
	c.Resource = nil
	if s.Resource == nil {
		return fmt.Sprintf("%+v without resource", c)
	}
	return fmt.Sprintf("%+v %+v", c, *s.Resource)
}

// TestReusedSpansAreStoredIntact sends OTLP/HTTP requests concurrently through the receiver, a real pipeline and
// the embedded store: the pipeline releases every request's spans (the store keeps only their log record), so the
// receiver decodes each request into the memory of requests before it. Then every span is read back from the
// store's head and must be exactly as decoded on its own. Run with -race, it also checks that no request's spans
// are written while the pipeline or the store still reads them.
func TestReusedSpansAreStoredIntact(t *testing.T) {
	for _, stage := range []bool{false, true} {
		name := "record path"
		o := Options{CutCheck: time.Hour, MaxPendingSpans: 1 << 20}
		if stage {
			name = "through a stage"
			o.Stage = func(next store.Writer) store.Writer { return next }
		}
		t.Run(name, func(t *testing.T) {
			st := open(t, t.TempDir(), embedded.Options{CompactInterval: -1}, o, wal.FsyncInterval(time.Millisecond))
			defer st.s.Close()
			defer st.p.Close()
			c := &countReleases{Pipeline: st.p}
			h := otlp.NewHTTPHandler(c, ingest.Options{})

			const senders, requests = 4, 8
			g := spangen.New(11, time.Now().UnixNano())
			bodies := make([][][]byte, senders)
			want := map[model.TraceID]map[model.SpanID]string{}
			for i := range senders {
				for range requests {
					var spans []*model.Span
					for len(spans) < 150 {
						spans = append(spans, g.Trace()...)
					}
					body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: otlp.Encode(spans).ResourceSpans})
					if err != nil {
						t.Fatal(err)
					}
					bodies[i] = append(bodies[i], body)
					decoded, _, _, err := otlp.DecodeProto(body)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range decoded {
						if want[s.TraceID] == nil {
							want[s.TraceID] = map[model.SpanID]string{}
						}
						want[s.TraceID][s.SpanID] = spanText(s)
					}
				}
			}

			var wg sync.WaitGroup
			errs := make(chan error, senders)
			for i := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, body := range bodies[i] {
						req := httptest.NewRequest(http.MethodPost, otlp.TracesPath, bytes.NewReader(body))
						req.Header.Set("Content-Type", "application/x-protobuf")
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK {
							errs <- fmt.Errorf("status %d: %s", rec.Code, rec.Body)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}

			n := int64(senders * requests)
			if stage && (c.released.Load() != 0 || c.kept.Load() != n) {
				t.Errorf("through a stage, %d requests released and %d kept, want all %d kept", c.released.Load(), c.kept.Load(), n)
			}
			if !stage && (c.released.Load() != n || c.kept.Load() != 0) {
				t.Errorf("on the record path, %d requests released and %d kept, want all %d released", c.released.Load(), c.kept.Load(), n)
			}
			if st.s.Pending() == 0 {
				t.Fatal("nothing in the store's head")
			}
			for id, spans := range want {
				got, err := st.s.Trace(ctx, id)
				if err != nil {
					t.Fatalf("trace %s: %v", id, err)
				}
				if len(got) != len(spans) {
					t.Fatalf("trace %s: %d spans, want %d", id, len(got), len(spans))
				}
				for _, s := range got {
					if text := spanText(s); text != spans[s.SpanID] {
						t.Fatalf("trace %s span %s:\n got  %s\n want %s", id, s.SpanID, text, spans[s.SpanID])
					}
				}
			}
		})
	}
}

// TestBatchReleased: a batch reports its spans released when they went only to the log and the store's
// RecordWriter, or were refused before reaching any writer (overload), and kept when a Stage took them. Its size
// estimate, made span by span as they are added, is the one Consume makes.
func TestBatchReleased(t *testing.T) {
	tests := []struct {
		name     string
		stage    bool
		overload bool
		released bool
	}{
		{"record path", false, false, true},
		{"record path, overload", false, true, true},
		{"stage", true, false, false},
		{"stage, overload", true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{CutCheck: time.Hour}
			if tt.stage {
				o.Stage = func(next store.Writer) store.Writer { return next }
			}
			st := open(t, t.TempDir(), embedded.Options{CompactInterval: -1}, o, wal.FsyncAlways())
			defer st.s.Close()
			defer st.p.Close()
			g := spangen.New(6, time.Now().UnixNano())
			spans := g.Spans(200)
			b := st.p.NewBatch()
			for _, s := range spans {
				b.Add(s)
			}
			if got, want := b.(*batch).size, estimate(spans); got != want {
				t.Errorf("batch estimate %d, want %d", got, want)
			}
			if ingest.Released(b) {
				t.Error("released before ConsumeBatch")
			}
			if tt.overload {
				st.p.inflight.Add(st.p.o.MaxInFlightBytes)
				defer st.p.inflight.Add(-st.p.o.MaxInFlightBytes)
			}
			err := st.p.ConsumeBatch(ctx, spans, b)
			if tt.overload != errors.Is(err, ingest.ErrOverloaded) {
				t.Fatalf("ConsumeBatch: %v", err)
			}
			if got := ingest.Released(b); got != tt.released {
				t.Errorf("released %v, want %v", got, tt.released)
			}
		})
	}
}
