package epoch

import (
	"testing"
	"time"
)

// TestWaitForEarlierReaders: Wait returns only once a reader that entered
// before it exits, and is not held by a reader that enters after it began.
func TestWaitForEarlierReaders(t *testing.T) {
	var r Readers
	e := r.Enter()
	done := make(chan struct{})
	go func() {
		r.Wait()
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	late := r.Enter() // in the new epoch: Wait must not wait for it
	select {
	case <-done:
		t.Fatal("Wait returned while an earlier reader was still in")
	default:
	}
	r.Exit(e)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after the earlier reader exited")
	}
	r.Exit(late)
	r.Wait() // nobody in: returns at once
}
