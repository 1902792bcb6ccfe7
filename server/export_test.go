package server

import (
	"sync"
	"sync/atomic"
	"testing"
)

// HoldImportSwap makes the build jobs of import (imports_build.go) wait,
// once their index is built and before it is swapped in, until release
// is called; reached receives each job's id as it starts waiting. The
// hold ends (release) when the test ends, if not before.
func HoldImportSwap(t testing.TB) (reached <-chan string, release func()) {
	ch := make(chan string, 16)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	testHookImportSwap = func(id string) {
		select {
		case ch <- id:
		default:
		}
		<-gate
	}
	t.Cleanup(release)
	return ch, release
}

// HoldImportBatch makes the upsert jobs of import (imports_upsert.go)
// wait before their batch number after (counting from 0, over all jobs)
// until release is called; reached is closed when a job starts waiting.
// The hold ends (release) when the test ends, if not before.
func HoldImportBatch(t testing.TB, after int) (reached <-chan struct{}, release func()) {
	ch := make(chan struct{})
	gate := make(chan struct{})
	var once, reach sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	var batches atomic.Int64
	testHookImportBatch = func() {
		if batches.Add(1)-1 == int64(after) {
			reach.Do(func() { close(ch) })
			<-gate
		}
	}
	t.Cleanup(release)
	return ch, release
}

// OnImportsStop returns a channel that receives once each time a server
// closing has stopped its import jobs (before it waits for them).
func OnImportsStop(t testing.TB) <-chan struct{} {
	ch := make(chan struct{}, 4)
	testHookImportsStop = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { testHookImportsStop = nil })
	return ch
}

// OnImportCancel returns a channel that receives the id of each job
// CancelImport has cancelled (before it waits for the job to stop).
func OnImportCancel(t testing.TB) <-chan string {
	ch := make(chan string, 4)
	testHookImportCancel = func(id string) {
		select {
		case ch <- id:
		default:
		}
	}
	t.Cleanup(func() { testHookImportCancel = nil })
	return ch
}
