package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weftrace/weft/trace/export/retry"
)

func ExampleDo() {
	attempts := 0
	err := retry.Do(context.Background(), retry.Policy{Initial: time.Millisecond}, func(ctx context.Context) error {
		attempts++
		if attempts < 3 {
			return retry.Retryable(errors.New("503 Service Unavailable"), 0)
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output: 3 <nil>
}

func ExampleParseRetryAfter() {
	fmt.Println(retry.ParseRetryAfter("120", time.Now()))
	// Output: 2m0s
}
