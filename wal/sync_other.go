//go:build !linux

package wal

import "os"

// SyncData makes what was written to f durable (fsync where fdatasync is not to be had).
func SyncData(f *os.File) error { return f.Sync() }
