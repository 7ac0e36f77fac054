package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDecodeLimiterWeights(t *testing.T) {
	l := newDecodeLimiter(4<<20, 100<<10)
	tests := []struct {
		body, want int64
	}{
		{0, 64 << 10},
		{10 << 10, 10<<10*8 + 64<<10},
		{-1, 100<<10*8 + 64<<10},       // unknown size: weighs as the largest body
		{50 << 20, 100<<10*8 + 64<<10}, // over the body limit: as the largest body
	}
	if got := newDecodeLimiter(1<<20, 1<<20).weight(-1); got != 1<<20 {
		t.Errorf("weight beyond the budget = %d, want the whole budget %d", got, 1<<20)
	}
	for _, tt := range tests {
		if got := l.weight(tt.body); got != tt.want {
			t.Errorf("weight(%d) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

// A request that cannot get its share of the budget while others hold it is answered 429 with a retry hint; once
// the budget is free again the next one goes through.
func TestDecodeLimiterRejectsWhenFull(t *testing.T) {
	l := newDecodeLimiter(1<<20, 1<<20)
	l.wait = 50 * time.Millisecond
	rejected := 0
	l.onReject = func(string) { rejected++ }
	inside := make(chan struct{})
	release := make(chan struct{}, 2)
	h := l.http("test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
		r.ContentLength = -1 // takes the whole budget
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	<-inside
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("small")))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || rejected != 1 {
		t.Fatalf("while full: %d, Retry-After %q, rejected %d; want 429 with a hint", rec.Code, rec.Header().Get("Retry-After"), rejected)
	}
	release <- struct{}{}
	wg.Wait()
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("small")))
		done <- rec.Code
	}()
	<-inside
	release <- struct{}{}
	if code := <-done; code != http.StatusOK {
		t.Fatalf("after release: %d, want 200", code)
	}
	if !l.acquire(context.Background(), 1<<20) {
		t.Fatal("budget not fully released")
	}
}
