package receivertest

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// SpanText is a span with everything it points at, for comparing spans across requests: two spans have the same
// text exactly when a consumer could not tell them apart.
func SpanText(s *model.Span) string {
	c := *s
	c.Resource = nil
	if s.Resource == nil {
		return fmt.Sprintf("%+v without resource", c)
	}
	return fmt.Sprintf("%+v %+v", c, *s.Resource)
}

// RequestText is the text of a request's spans, in order.
func RequestText(spans []*model.Span) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString(SpanText(s))
		b.WriteByte('\n')
	}
	return b.String()
}

// CheckReuse checks that a receiver reuses the memory of a request's spans only when its consumer let go of them.
// fresh holds each request's spans as a decoder of its own decodes them. send(c) starts the receiver with consumer
// c and returns a function that sends it request i and reports a wrong answer. Every request is sent rounds times,
// concurrently, to three receivers: one whose consumer releases the spans (each request must reach it as with a
// new decoder, whatever memory it reuses) and two whose consumers keep them, a plain Consumer and a BatchConsumer
// whose batches do not release. The spans kept must be unchanged at the end, though the receivers share their
// pooled decoders, and the memory in them, with the releasing one.
func CheckReuse(t *testing.T, fresh [][]*model.Span, rounds int, send func(c ingest.Consumer) func(i int) error) {
	t.Helper()
	texts := map[string]bool{}
	count := map[string]int{}
	for _, spans := range fresh {
		texts[RequestText(spans)] = true
		for _, s := range spans {
			count[SpanText(s)] += rounds
		}
	}
	releasing := &releasingConsumer{want: texts}
	keeping, keepingB := &keeper{}, &keepingBatches{}
	var wg sync.WaitGroup
	for _, c := range []ingest.Consumer{releasing, keeping, keepingB} {
		sendTo := send(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range rounds {
				for i := range fresh {
					if err := sendTo((i + round) % len(fresh)); err != nil {
						t.Errorf("%T: %v", c, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if want := rounds * len(fresh); releasing.requests != want {
		t.Errorf("the releasing consumer took %d requests, want %d", releasing.requests, want)
	}
	for _, s := range releasing.surprises {
		t.Errorf("a request decoded into reused memory differs from every request sent:\n%.600s", s)
	}
	for _, k := range []*keeper{keeping, &keepingB.keeper} {
		left := maps.Clone(count)
		for _, s := range k.spans {
			left[SpanText(s)]--
		}
		for text, n := range left {
			if n != 0 {
				t.Fatalf("a kept span changed after it was handed over: %d too few of %.600s", n, text)
			}
		}
	}
}

// releasingConsumer is a BatchConsumer that lets go of the spans (its batches report Released) after checking each
// request against the texts it may be, and that each span of it was added to the batch, in order.
type releasingConsumer struct {
	want map[string]bool

	mu        sync.Mutex
	requests  int
	surprises []string
}

type releasingBatch struct {
	added    []*model.Span
	consumed bool
}

func (b *releasingBatch) Add(s *model.Span) { b.added = append(b.added, s) }
func (b *releasingBatch) Released() bool    { return b.consumed }

func (c *releasingConsumer) NewBatch() ingest.Batch { return &releasingBatch{} }

func (c *releasingConsumer) Consume(ctx context.Context, spans []*model.Span) error {
	return c.ConsumeBatch(ctx, spans, nil)
}

func (c *releasingConsumer) ConsumeBatch(_ context.Context, spans []*model.Span, b ingest.Batch) error {
	text := RequestText(spans)
	rb, _ := b.(*releasingBatch)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if !c.want[text] {
		c.surprises = append(c.surprises, text)
	}
	if rb == nil || !reflect.DeepEqual(rb.added, spans) {
		c.surprises = append(c.surprises, "the batch was not given the request's spans, in order")
	}
	if rb != nil {
		rb.consumed = true
	}
	return nil
}

// keeper is a plain Consumer that keeps every span it is handed.
type keeper struct {
	mu    sync.Mutex
	spans []*model.Span
}

func (k *keeper) Consume(_ context.Context, spans []*model.Span) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.spans = append(k.spans, spans...)
	return nil
}

// keepingBatches is a BatchConsumer whose batches do not release: it keeps the spans, as a recorder does.
type keepingBatches struct{ keeper }

type keepingBatch struct{}

func (keepingBatch) Add(*model.Span) {}

func (k *keepingBatches) NewBatch() ingest.Batch { return keepingBatch{} }
func (k *keepingBatches) ConsumeBatch(ctx context.Context, spans []*model.Span, _ ingest.Batch) error {
	return k.Consume(ctx, spans)
}
