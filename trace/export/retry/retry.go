// Package retry is how weft's exporters retry a failed export: exponential backoff with jitter, honouring a
// server's Retry-After, never past the export context's deadline. It sits under the exporters (trace/export/...),
// which decide what is worth retrying: a 429 or 503 answer, a network error.
package retry

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy says how often and how long to retry. The zero value means the defaults.
type Policy struct {
	// Initial is the wait before the first retry; each later wait doubles, up to Max. Default 250ms.
	Initial time.Duration
	// Max caps one wait (before jitter). Default 5s.
	Max time.Duration
	// MaxElapsed bounds the whole export when its context has no deadline. Default 1 minute.
	MaxElapsed time.Duration
	// Disabled makes one attempt only.
	Disabled bool
}

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = 250 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 5 * time.Second
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = time.Minute
	}
	return p
}

// retryable is an error worth another attempt.
type retryable struct {
	err   error
	after time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// Retryable marks err as worth another attempt, no sooner than after (a server's Retry-After; zero for none).
func Retryable(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryable{err: err, after: after}
}

// IsRetryable reports whether err was marked by Retryable, and the wait the server asked for.
func IsRetryable(err error) (time.Duration, bool) {
	var r *retryable
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// Do calls attempt until it succeeds, returns an error not marked Retryable, or the next attempt could not start
// before ctx's deadline (or p.MaxElapsed, when ctx has none). Between attempts it waits an exponentially growing,
// jittered time, or what the server asked for when that is longer. It returns the last attempt's error.
func Do(ctx context.Context, p Policy, attempt func(ctx context.Context) error) error {
	p = p.withDefaults()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(p.MaxElapsed)
	}
	backoff := p.Initial
	for {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		after, ok := IsRetryable(err)
		if !ok || p.Disabled {
			return err
		}
		// Full jitter on the upper half: spreads clients that failed together without ever waiting less than
		// half the backoff.
		wait := backoff/2 + rand.N(backoff/2+1)
		if after > wait {
			wait = after
		}
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, p.Max)
	}
}

// ParseRetryAfter reads a Retry-After header: a number of seconds or an HTTP date. It returns 0 when the header
// is absent, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// HTTPError is an answer outside 2xx that is not worth retrying (or the last of those that were).
type HTTPError struct {
	StatusCode int
	Status     string // "400 Bad Request"
	Body       string // the start of the body, for the error message
}

// Error gives the status and the start of the body.
func (e *HTTPError) Error() string {
	if e.Body == "" {
		return "server answered " + e.Status
	}
	return "server answered " + e.Status + ": " + e.Body
}

// CheckResponse classifies an HTTP answer: nil for 2xx; for 429, 502, 503 and 504 an *HTTPError marked
// Retryable with the Retry-After it carried; any other status an *HTTPError. It reads (and drains) at most a few
// kilobytes of the body for the message; the caller still closes it.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	msg := strings.TrimSpace(string(b))
	if len(msg) > 512 {
		msg = msg[:512]
	}
	err := &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, Body: msg}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return Retryable(err, ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return err
}

// NetworkError marks an error from sending a request (connection refused, reset, timed out) as retryable,
// unless it happened because ctx ended.
func NetworkError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return Retryable(err, 0)
}
