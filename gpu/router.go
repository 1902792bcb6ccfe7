package gpu

import (
	"errors"
	"fmt"
	"sync"
)

// Router keeps a routing tree resident on an accelerator, for callers
// that route batches of queries there (index's SearchBatch). The backend
// is opened on first use by Mode (or is the caller's own); the tree is
// loaded then and again whenever the caller's tree generation changes. In
// Auto mode a device that fails leaves routing to the CPU from then on; in
// On mode the failure is an error. Router is safe for concurrent use.
type Router struct {
	mode Mode
	user Backend // the caller's backend, never closed here; nil: open by mode
	logf func(format string, args ...any)

	mu      sync.Mutex
	tried   bool    // the backend was opened (or found unusable)
	backend Backend // nil: route on the CPU
	tree    TreeIndex
	gen     uint64 // generation the resident tree was loaded at
}

// NewRouter returns a Router that opens a backend by mode, or uses
// backend if it is not nil (the caller keeps it). logf, if set, receives
// a line when routing falls back to the CPU.
func NewRouter(mode Mode, backend Backend, logf func(format string, args ...any)) *Router {
	return &Router{mode: mode, user: backend, logf: logf}
}

// Tree returns the resident tree of generation gen, loading load() first
// if the resident one is older (the caller keeps the tree unchanged
// during the call). It returns nil and no error where routing runs on the
// CPU: mode Off, Auto without a usable device, or after a failure.
func (r *Router) Tree(gen uint64, load func() *Tree) (TreeIndex, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.tried {
		r.tried = true
		if err := r.open(); err != nil {
			return nil, err
		}
	}
	if r.backend == nil {
		return nil, nil
	}
	if r.tree != nil && r.gen == gen {
		return r.tree, nil
	}
	if r.tree != nil {
		r.tree.Close()
		r.tree = nil
	}
	t, err := r.backend.LoadTree(load())
	if err != nil {
		return nil, r.failLocked("routing tree does not load on the device", err)
	}
	r.tree, r.gen = t, gen
	return t, nil
}

func (r *Router) open() error {
	if r.user != nil {
		r.backend = r.user
		return nil
	}
	be, err := Open(&Options{Mode: r.mode, Logf: r.logf})
	if err != nil {
		return fmt.Errorf("gpu: mode %v: %w", r.mode, err)
	}
	if be.Info().Kind != KindCUDA {
		be.Close() // Auto without a device: route on the CPU
		return nil
	}
	r.backend = be
	return nil
}

// Fail reports that routing on the resident tree failed with err: in On
// mode it returns err (wrapped with what); otherwise it releases the
// device, so that routing runs on the CPU from now on, and returns nil.
func (r *Router) Fail(what string, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failLocked(what, err)
}

func (r *Router) failLocked(what string, err error) error {
	if r.mode == On {
		return fmt.Errorf("gpu: %s: %w", what, err)
	}
	if r.logf != nil {
		r.logf("search: %s (%v); batch routing runs on the CPU", what, err)
	}
	r.releaseLocked()
	return nil
}

// releaseLocked drops the tree and a backend opened here.
func (r *Router) releaseLocked() error {
	var errs []error
	if r.tree != nil {
		errs = append(errs, r.tree.Close())
		r.tree = nil
	}
	if r.backend != nil && r.backend != r.user {
		errs = append(errs, r.backend.Close())
	}
	r.backend = nil
	return errors.Join(errs...)
}

// Close releases the device; routing runs on the CPU afterwards.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tried = true
	return r.releaseLocked()
}

// Resident reports whether a tree is loaded on the device now.
func (r *Router) Resident() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tree != nil
}
