package wal

import (
	"os"
	"syscall"
)

// SyncData makes what was written to f durable, with the metadata needed to read it back (its size) but not the
// rest (its times): fdatasync, which for a file written over in place, as a recycled segment or block is, needs
// no journal commit.
func SyncData(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fdatasync(int(fd)); serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
