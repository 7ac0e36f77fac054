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
// c and returns its senders (one for each way in: HTTP, gRPC), each a function that sends request i and reports a
// wrong answer. Every request is sent rounds times by every sender, concurrently, to three receivers: one whose
// consumer releases the spans (each request must reach it as with a new decoder, whatever memory it reuses) and
// two whose consumers keep them, a plain Consumer and a BatchConsumer whose batches do not release. The spans kept
// must be unchanged at the end, though the receivers share their pooled decoders, and the memory in them, with the
// releasing one.
func CheckReuse(t *testing.T, fresh [][]*model.Span, rounds int, send func(c ingest.Consumer) []func(i int) error) {
	t.Helper()
	texts := map[string]bool{}
	for _, spans := range fresh {
		texts[RequestText(spans)] = true
	}
	releasing := &releasingConsumer{want: texts}
	keeping, keepingB := &keeper{}, &keepingBatches{}
	var wg sync.WaitGroup
	senders := 0
	for _, c := range []ingest.Consumer{releasing, keeping, keepingB} {
		for j, sendTo := range send(c) {
			senders++
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := range rounds {
					for i := range fresh {
						if err := sendTo((i + round) % len(fresh)); err != nil {
							t.Errorf("%T, sender %d: %v", c, j, err)
							return
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sends := senders / 3 * rounds // of each request to each receiver
	if want := sends * len(fresh); releasing.requests != want {
		t.Errorf("the releasing consumer took %d requests, want %d", releasing.requests, want)
	}
	for _, s := range releasing.surprises {
		t.Errorf("a request decoded into reused memory differs from every request sent:\n%.600s", s)
	}
	// Each request's spans, still as they were handed over: each span sent is held as many times as it was sent.
	count := map[string]int{}
	for _, spans := range fresh {
		for _, s := range spans {
			count[SpanText(s)] += sends
		}
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

// FreeCheck fails t unless what a decoder keeps for reuse after request i is free and zero.
type FreeCheck func(t *testing.T, i int)

// Free checks the free blocks of l, a kind of a decoder's memory (spanmem.Blocks): after a request whose spans
// were released there must be some, and all of them empty and zero.
func Free[T any](kind string, l interface {
	Free(isZero func(*T) bool) (n int, zero bool)
}) FreeCheck {
	return func(t *testing.T, i int) {
		t.Helper()
		n, zero := l.Free(func(x *T) bool { return reflect.ValueOf(x).Elem().IsZero() })
		if n == 0 {
			t.Fatalf("after request %d, no free %s blocks kept", i, kind)
		}
		if !zero {
			t.Fatalf("after request %d, a free %s block is not empty and zero", i, kind)
		}
	}
}

// CheckKeepsHeldSpans decodes n requests, twice over, one after the other with one decoder (decode(i) decodes
// request i into its memory; reset ends the request, releasing its spans or not), whose consumer lets go of some
// requests' spans (their memory serves the next) and keeps the others. Every request must decode as fresh(i)
// does, with a decoder of its own, whatever memory it lands in; the spans kept must be, at the end, exactly as
// they were handed over, though later requests were decoded into reused memory; spans must really land in the
// memory of released ones; and after a release, frees must find what the decoder keeps for reuse all zero.
func CheckKeepsHeldSpans(t *testing.T, n int, fresh, decode func(i int) []*model.Span, reset func(release bool), frees ...FreeCheck) {
	t.Helper()
	var kept [][]*model.Span
	var keptText []string
	released := map[*model.Span]bool{}
	reused := 0
	for round := range 2 {
		for i := range n {
			want := RequestText(fresh(i))
			spans := decode(i)
			if got := RequestText(spans); got != want {
				t.Fatalf("round %d request %d decoded into reused memory differs:\n got %.600s\nwant %.600s",
					round, i, got, want)
			}
			for _, s := range spans {
				if released[s] {
					reused++
				}
			}
			release := (i+round)%3 != 0
			if release {
				for _, s := range spans {
					released[s] = true
				}
			} else {
				kept = append(kept, spans)
				keptText = append(keptText, want)
			}
			reset(release)
			if release {
				for _, free := range frees {
					free(t, i)
				}
			}
		}
	}
	if reused == 0 {
		t.Error("no span was decoded into the memory of a released one: the test tests nothing")
	}
	for i := range kept {
		if got := RequestText(kept[i]); got != keptText[i] {
			t.Fatalf("kept request %d changed after later requests were decoded:\n got %.600s\nwant %.600s", i, got, keptText[i])
		}
	}
}

// CheckAttrsSeparate checks that growing one span's attributes (as ExtractCausality and Normalize may) never
// writes into another's, though a request's spans share attribute blocks.
func CheckAttrsSeparate(t *testing.T, name string, spans []*model.Span) {
	t.Helper()
	want := RequestText(spans)
	for _, s := range spans {
		if len(s.Attrs) != cap(s.Attrs) {
			t.Fatalf("%s: span attributes with len %d cap %d: an append would write into the block", name, len(s.Attrs), cap(s.Attrs))
		}
	}
	for _, s := range spans {
		s.Attrs = append(s.Attrs, model.Attr{Key: "added", Value: model.Int(1)})
	}
	for _, s := range spans {
		s.Attrs = s.Attrs[:len(s.Attrs)-1]
	}
	if got := RequestText(spans); got != want {
		t.Fatalf("%s: span attributes changed by appends to others", name)
	}
}
