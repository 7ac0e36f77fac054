package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

var errTransient = errors.New("transient")

func fast() Policy { return Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond} }

func TestDo(t *testing.T) {
	permanent := errors.New("permanent")
	tests := []struct {
		name     string
		results  []error
		policy   Policy
		wantErr  error
		attempts int
	}{
		{"first attempt succeeds", []error{nil}, fast(), nil, 1},
		{"retries until success", []error{Retryable(errTransient, 0), Retryable(errTransient, 0), nil}, fast(), nil, 3},
		{"stops at a permanent error", []error{Retryable(errTransient, 0), permanent, nil}, fast(), permanent, 2},
		{"disabled makes one attempt", []error{Retryable(errTransient, 0), nil}, Policy{Disabled: true}, errTransient, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := Do(context.Background(), tt.policy, func(context.Context) error {
				err := tt.results[n]
				n++
				return err
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
		})
	}
}

// TestDoStopsAtDeadline: a wait that would end after the context's deadline is not started.
func TestDoStopsAtDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	n := 0
	err := Do(ctx, fast(), func(context.Context) error {
		n++
		return Retryable(errTransient, 2*time.Hour) // the server asks for more than the deadline allows
	})
	if !errors.Is(err, errTransient) || n != 1 {
		t.Errorf("error %v after %d attempts, want the transient error after 1", err, n)
	}
}

func TestDoStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Do(ctx, Policy{Initial: time.Hour, Max: time.Hour, MaxElapsed: 24 * time.Hour}, func(context.Context) error {
		n++
		cancel()
		return Retryable(errTransient, 0)
	})
	if !errors.Is(err, errTransient) || n != 1 {
		t.Errorf("error %v after %d attempts", err, n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 120 ":                         2 * time.Minute,
		"-1":                            0,
		"soon":                          0,
		"Sun, 22 Nov 2026 20:00:30 GMT": 30 * time.Second,
		"Sun, 22 Nov 2026 19:00:00 GMT": 0,
	}
	for in, want := range tests {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckResponse(t *testing.T) {
	for _, tt := range []struct {
		code      int
		retryable bool
	}{{200, false}, {204, false}, {400, false}, {404, false}, {429, true}, {500, false}, {502, true}, {503, true}, {504, true}} {
		resp := &http.Response{StatusCode: tt.code, Status: http.StatusText(tt.code), Header: http.Header{"Retry-After": {"7"}}, Body: http.NoBody}
		err := CheckResponse(resp)
		if (err == nil) != (tt.code < 300) {
			t.Errorf("%d: error %v", tt.code, err)
			continue
		}
		after, ok := IsRetryable(err)
		if ok != tt.retryable || (ok && after != 7*time.Second) {
			t.Errorf("%d: retryable %v after %v", tt.code, ok, after)
		}
	}
}
