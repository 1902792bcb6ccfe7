package pebblestore

import (
	"fmt"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/posting"
)

// batchReader is one goroutine's read machinery: an AIO context (nil where
// the kernel has none) and aligned buffers, one per read in flight. The
// buffers come from directio's size-class pools and go back when the read
// is done, so that idle readers on the free list hold no posting bytes
// (a reader used to keep its largest buffers, and 64 of them grew the
// heap by gigabytes under concurrent load with large postings).
type batchReader struct {
	batch *directio.Batch
	bufs  []directio.Pooled // by slot, for the read in progress
	reqs  []request
	held  []*segment // references taken by the read in progress
	// cached says whether the read in progress fills the posting cache.
	cached bool
}

// request is one posting read of a batch.
type request struct {
	idx  int // index into the caller's ids
	id   uint32
	loc  location
	file *directio.ReadFile // of the segment loc.seg, referenced in held
	span int                // aligned bytes read
}

func newBatchReader(stats *directio.Stats) *batchReader {
	r := &batchReader{}
	if b, err := directio.NewBatch(maxBatch, stats); err == nil {
		r.batch = b
	}
	return r
}

func (r *batchReader) close() {
	if r.batch != nil {
		r.batch.Close()
	}
}

// buffer returns an aligned buffer of n bytes for slot i, which must not
// hold one yet; release returns them.
func (r *batchReader) buffer(i, n int, align int) []byte {
	for len(r.bufs) <= i {
		r.bufs = append(r.bufs, directio.Pooled{})
	}
	r.bufs[i] = directio.GetPooled(n, max(align, pageSize))
	return r.bufs[i].Bytes(n)
}

// read reads up to maxBatch postings, through the posting cache if cached.
// It holds a reference on each segment it reads from, so that a segment
// deleted meanwhile stays open until the reads are done.
func (r *batchReader) read(s *Store, ids []uint32, fn func(int, []byte) error, cached bool) error {
	r.reqs = r.reqs[:0]
	s.mu.RLock()
	for i, id := range ids {
		l, ok := s.mu.dir.get(id)
		if !ok {
			continue
		}
		sg := s.mu.files[l.seg]
		if len(r.held) == 0 || r.held[len(r.held)-1] != sg {
			sg.acquire()
			r.held = append(r.held, sg)
		}
		r.reqs = append(r.reqs, request{idx: i, id: id, loc: l, file: sg.file})
	}
	s.mu.RUnlock()
	defer r.release()
	// Cached postings first; the rest are queued.
	pending := r.reqs[:0]
	for _, q := range r.reqs {
		if !cached {
			pending = append(pending, q)
			continue
		}
		if b, ok := s.cache.get(q.id, q.loc); ok {
			if err := fn(q.idx, b); err != nil {
				return err
			}
			continue
		}
		pending = append(pending, q)
	}
	r.cached = cached
	if len(pending) == 0 {
		return nil
	}
	if r.batch == nil {
		for i := range pending {
			if err := r.readOne(s, &pending[i], i, fn); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range pending {
		q := &pending[i]
		align := q.file.Align()
		q.span = int(roundUp(int64(q.loc.length), int64(align)))
		buf := r.buffer(i, q.span, align)
		if err := r.batch.Add(q.file.Fd(), buf, int64(q.loc.off), uint64(i)); err != nil {
			return err
		}
	}
	if err := r.batch.Submit(); err != nil {
		r.drain()
		return err
	}
	for r.batch.Pending() > 0 {
		done, err := r.batch.Wait(1)
		if err != nil {
			r.drain()
			return err
		}
		for _, c := range done {
			q := &pending[c.Tag]
			if err := r.deliver(s, q, r.bufs[c.Tag].Bytes(q.span), c.N, c.Err, fn); err != nil {
				r.drain()
				return err
			}
		}
	}
	return nil
}

// readOne reads one posting with a positioned read (no AIO).
func (r *batchReader) readOne(s *Store, q *request, slot int, fn func(int, []byte) error) error {
	align := q.file.Align()
	q.span = int(roundUp(int64(q.loc.length), int64(align)))
	buf := r.buffer(slot, q.span, align)
	n, err := q.file.ReadAt(buf, int64(q.loc.off))
	return r.deliver(s, q, buf, n, err, fn)
}

func (r *batchReader) deliver(s *Store, q *request, buf []byte, n int, err error, fn func(int, []byte) error) error {
	if err != nil {
		return fmt.Errorf("posting %d: %w", q.id, err)
	}
	q.file.AfterBatchRead(int64(q.loc.off), n)
	if n < int(q.loc.length) {
		return fmt.Errorf("posting %d: %w: read %d of %d bytes (segment %d truncated?)", q.id, posting.ErrCorrupt, n, q.loc.length, q.loc.seg)
	}
	b := buf[:q.loc.length]
	if s.cache.capacity > 0 && r.cached {
		s.cache.put(q.id, q.loc, b)
	}
	return fn(q.idx, b)
}

// release drops the segment references of the last read and returns its
// buffers. Reads still in flight (after an error) are drained first.
func (r *batchReader) release() {
	for i, sg := range r.held {
		sg.release()
		r.held[i] = nil
	}
	r.held = r.held[:0]
	for i := range r.bufs {
		r.bufs[i].Release()
	}
	r.bufs = r.bufs[:0]
}

// drain reaps reads still in flight after an error, so that their buffers
// can be returned. If it cannot, it destroys the AIO context (which waits
// for the kernel to finish or cancel them) and the reader falls back to
// positioned reads.
func (r *batchReader) drain() {
	for r.batch.Pending() > 0 {
		if _, err := r.batch.Wait(r.batch.Pending()); err != nil {
			r.batch.Close()
			r.batch = nil
			return
		}
	}
}

func roundUp(n, align int64) int64 { return (n + align - 1) / align * align }
