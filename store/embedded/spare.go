package embedded

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// spareSuffix names the files of dropped blocks kept to be written over by new blocks.
const spareSuffix = ".spare"

// spares keeps the files of blocks that compaction or retention dropped, up to max bytes, and hands them to new
// blocks to be written over. On this kind of machine the kernel spends several times more CPU on a file whose
// blocks it must allocate (and, with the disk mounted with discard, free again) than on one whose blocks and
// cached pages are already there: docs/storage.md has the measurements. A spare is never written while a reader
// still holds the block it was: it becomes free only when the block's last reader lets go.
type spares struct {
	dir   string
	max   int64
	gauge prometheus.Gauge // of bytes

	mu    sync.Mutex
	free  []spareFile
	bytes int64 // of every spare file, free or still read
	seq   int
}

type spareFile struct {
	name string
	size int64
}

// newSpares keeps up to max bytes of spare files in dir (none if max <= 0), counting them in gauge.
func newSpares(dir string, max int64, gauge prometheus.Gauge) *spares {
	return &spares{dir: dir, max: max, gauge: gauge}
}

// add counts n more bytes of spares. Called with mu held.
func (sp *spares) add(n int64) {
	sp.bytes += n
	sp.gauge.Add(float64(n))
}

// found takes in a spare file found in the directory at Open, or deletes it when the spares are full.
func (sp *spares) found(name string, size int64) {
	n, _ := strconv.Atoi(strings.TrimSuffix(name, spareSuffix))
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.seq = max(sp.seq, n)
	if sp.bytes+size > sp.max {
		os.Remove(filepath.Join(sp.dir, name))
		return
	}
	sp.add(size)
	sp.free = append(sp.free, spareFile{name, size})
}

// retire takes the file at path, of a block that has left the store, as a spare, renaming it; it gives the spare's
// name, to be passed to release once nothing reads the block. When the spares are full, or the rename fails, the
// file is deleted instead and the name is "".
func (sp *spares) retire(path string, size int64) string {
	sp.mu.Lock()
	if sp.bytes+size > sp.max {
		sp.mu.Unlock()
		os.Remove(path)
		return ""
	}
	sp.seq++
	name := strconv.Itoa(sp.seq) + spareSuffix
	sp.add(size)
	sp.mu.Unlock()
	if err := os.Rename(path, filepath.Join(sp.dir, name)); err != nil {
		os.Remove(path)
		sp.mu.Lock()
		sp.add(-size)
		sp.mu.Unlock()
		return ""
	}
	return name
}

// release makes a retired spare free to be written over.
func (sp *spares) release(name string, size int64) {
	sp.mu.Lock()
	sp.free = append(sp.free, spareFile{name, size})
	sp.mu.Unlock()
}

// take renames a free spare to path, to be written over, and says whether it did: the smallest spare of at least
// want bytes, or the largest one when none is that large. Without one, path is left alone.
func (sp *spares) take(path string, want int64) bool {
	sp.mu.Lock()
	best := -1
	for i, f := range sp.free {
		if best < 0 {
			best = i
			continue
		}
		b := sp.free[best]
		switch {
		case b.size < want && f.size > b.size: // nothing large enough yet: the larger the better
			best = i
		case f.size >= want && f.size < b.size:
			best = i
		}
	}
	if best < 0 {
		sp.mu.Unlock()
		return false
	}
	f := sp.free[best]
	sp.free[best] = sp.free[len(sp.free)-1]
	sp.free = sp.free[:len(sp.free)-1]
	sp.add(-f.size)
	sp.mu.Unlock()
	return os.Rename(filepath.Join(sp.dir, f.name), path) == nil
}
