package ingest

import (
	"context"
	"testing"
)

// TestAdmissionDoesNotWait: a gRPC request's message is already in memory, so its admission asks with a context
// already done, which an Admit that holds requests for room answers at once.
func TestAdmissionDoesNotWait(t *testing.T) {
	var asked context.Context
	o := Options{Admit: func(ctx context.Context) error { asked = ctx; return nil }}
	if err := o.Admission(); err != nil {
		t.Fatal(err)
	}
	if asked == nil || asked.Err() == nil {
		t.Fatalf("Admission asked with a context that is not done (%v): an Admit could hold the read message", asked)
	}
	if err := (Options{}).Admission(); err != nil {
		t.Fatalf("no Admit: %v", err)
	}
}
