package concurrency_test

import (
	"context"
	"fmt"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/concurrency"
)

// A producer hands values to a consumer goroutine; each receive names its send in the event DAG.
func ExampleSend() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	ctx, span := p.Tracer("example").Start(context.Background(), "pipeline")
	ch := make(chan concurrency.Message[string])
	consumer := trace.Go(ctx, func(ctx context.Context) {
		ctx, span := p.Tracer("example").Start(ctx, "consume")
		defer span.End()
		for {
			v, ok, _ := concurrency.Receive(ctx, ch)
			if !ok {
				return
			}
			fmt.Println("got", v)
		}
	})
	concurrency.Send(ctx, ch, "malt")
	concurrency.Send(ctx, ch, "hops")
	close(ch)
	consumer.Join()
	span.End()
	p.Shutdown(context.Background())
	// Output:
	// got malt
	// got hops
}
