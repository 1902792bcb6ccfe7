package vectors

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/internal/directio"
	"github.com/shoaldb/shoal/internal/errs"
)

// The rerank of a quantized index reads the rows of a few candidates at
// a time. With a version 2 (page-aligned) file they are read with direct
// I/O, the blocks of one call submitted together (AIO where the kernel
// has it), so that searching keeps the rows out of the page cache as it
// keeps the postings; older files go through Reader's buffered path.

// maxBlocks bounds the blocks one DirectReader.Read submits at once.
const maxBlocks = 64

// direct is a Store's direct-I/O state, opened on first use.
type direct struct {
	once    sync.Once
	f       *directio.ReadFile
	err     error
	readers chan *DirectReader // idle readers, each with its AIO context
	ops     atomic.Int64
	bytes   atomic.Int64
	// records is set once the store may hold upserted records: until
	// then a rerank reads build rows without looking records up.
	records atomic.Bool
}

// NoteRecords tells s that its KV may hold upserted records (call it
// before the first one is written); until it is called ReadRerank takes
// every id below the build's count to be a build row.
func (s *Store) NoteRecords() { s.dio.records.Store(true) }

// DirectStats returns the reads and bytes of the direct reads so far.
func (s *Store) DirectStats() (ops, bytes int64) {
	return s.dio.ops.Load(), s.dio.bytes.Load()
}

func (s *Store) openDirect() error {
	s.dio.once.Do(func() {
		s.dio.readers = make(chan *DirectReader, 64)
		if s.f == nil || s.l.version != alignedVersion {
			return
		}
		s.dio.f, s.dio.err = directio.OpenReadFile(filepath.Join(s.dir, File), nil)
		if s.dio.err != nil {
			s.dio.err = fmt.Errorf("%w: %s: %v", errs.Corrupt, File, s.dio.err)
		}
	})
	return s.dio.err
}

// closeDirect releases the direct-I/O file and the idle readers.
func (s *Store) closeDirect() {
	if s.dio.readers != nil {
		for {
			select {
			case r := <-s.dio.readers:
				r.close()
				continue
			default:
			}
			break
		}
	}
	if s.dio.f != nil {
		s.dio.f.Close()
	}
}

// DirectReader reads the rows of a rerank (see ReadRerank). It is one
// goroutine's: not safe for concurrent use.
type DirectReader struct {
	batch  *directio.Batch // nil where the kernel has no AIO
	rd     Reader          // records, and the rows of a file not aligned
	blocks []uint64        // distinct blocks to read, ascending
	bufs   []directio.Pooled
}

func (r *DirectReader) close() {
	if r.batch != nil {
		r.batch.Close()
	}
}

// ReadRerank returns the stored rows of ids (ascending, distinct, at
// versions vers), leaving out ids deleted since their state was read,
// to fn with their ids and versions: upserted records from the store,
// build rows by direct reads of their blocks (each checked; buffered
// reads for a file that is not page-aligned). The slices passed to fn are
// valid only until fn returns. Safe for concurrent use.
func (s *Store) ReadRerank(ids []uint64, vers []uint8, fn func(rows []byte, ids []uint64, vers []uint8) error) error {
	if err := s.openDirect(); err != nil {
		return err
	}
	var r *DirectReader
	select {
	case r = <-s.dio.readers:
	default:
		r = &DirectReader{}
		if s.dio.f != nil && s.dio.f.Direct() {
			if b, err := directio.NewBatch(maxBlocks, nil); err == nil {
				r.batch = b
			}
		}
	}
	defer func() {
		for i := range r.bufs {
			r.bufs[i].Release()
		}
		r.bufs = r.bufs[:0]
		select {
		case s.dio.readers <- r:
		default:
			r.close()
		}
	}()
	rows, ids, vers, err := r.read(s, ids, vers)
	if err != nil {
		return err
	}
	return fn(rows, ids, vers)
}

func (r *DirectReader) read(s *Store, ids []uint64, vers []uint8) ([]byte, []uint64, []uint8, error) {
	if s.dio.f == nil {
		// Not page-aligned: the build rows through the page cache.
		return r.rd.Read(s, ids, vers)
	}
	var rows []byte
	if s.dio.records.Load() {
		var err error
		if rows, err = r.rd.records(s, ids); err != nil {
			return nil, nil, nil, err
		}
	} else {
		rows = r.rd.none(s, ids)
	}
	if err := r.readBlocks(s, ids, rows); err != nil {
		return nil, nil, nil, err
	}
	return r.rd.keepFound(s, rows, ids, vers)
}

// readBlocks reads the blocks holding the build rows of the ids not found
// yet, with direct I/O, and copies the rows out.
func (r *DirectReader) readBlocks(s *Store, ids []uint64, rows []byte) error {
	l, rb := s.l, s.rowBytes
	r.blocks = r.blocks[:0]
	for i, id := range ids {
		if r.rd.found[i] || id >= s.count {
			continue
		}
		if k := id / l.blockRows; len(r.blocks) == 0 || r.blocks[len(r.blocks)-1] != k {
			r.blocks = append(r.blocks, k)
		}
	}
	stride := int(l.stride())
	for lo := 0; lo < len(r.blocks); lo += maxBlocks {
		blocks := r.blocks[lo:min(lo+maxBlocks, len(r.blocks))]
		for i := range r.bufs {
			r.bufs[i].Release()
		}
		r.bufs = r.bufs[:0]
		for range blocks {
			r.bufs = append(r.bufs, directio.GetPooled(stride, pageSize))
		}
		if err := r.submit(s, blocks, stride); err != nil {
			return err
		}
		j := 0
		for i, id := range ids {
			if r.rd.found[i] || id >= s.count {
				continue
			}
			k := id / l.blockRows
			for j < len(blocks) && blocks[j] < k {
				j++
			}
			if j == len(blocks) {
				break // in the next group of blocks
			}
			b := r.bufs[j].Bytes(stride)
			off := l.rowOff(id) - l.blockOff(k)
			copy(rows[i*rb:(i+1)*rb], b[off:off+int64(rb)])
			r.rd.found[i] = true
		}
	}
	return nil
}

// submit reads blocks into r.bufs and checks each.
func (r *DirectReader) submit(s *Store, blocks []uint64, stride int) error {
	f := s.dio.f
	if r.batch == nil {
		for i, k := range blocks {
			n, err := f.ReadAt(r.bufs[i].Bytes(stride), s.l.blockOff(k))
			if err := r.check(s, k, i, stride, n, err); err != nil {
				return err
			}
		}
		return nil
	}
	for i, k := range blocks {
		if err := r.batch.Add(f.Fd(), r.bufs[i].Bytes(stride), s.l.blockOff(k), uint64(i)); err != nil {
			return err
		}
	}
	if err := r.batch.Submit(); err != nil {
		r.drain()
		return err
	}
	for r.batch.Pending() > 0 {
		done, err := r.batch.Wait(r.batch.Pending())
		if err != nil {
			r.drain()
			return err
		}
		for _, c := range done {
			if err := r.check(s, blocks[c.Tag], int(c.Tag), stride, c.N, c.Err); err != nil {
				r.drain()
				return err
			}
		}
	}
	return nil
}

func (r *DirectReader) check(s *Store, k uint64, slot, stride, n int, err error) error {
	s.dio.ops.Add(1)
	s.dio.bytes.Add(int64(n))
	if err != nil {
		return fmt.Errorf("%w: %s: block %d: %v", errs.Corrupt, File, k, err)
	}
	if n < stride {
		return fmt.Errorf("%w: %s: block %d: read %d of %d bytes (file truncated?)", errs.Corrupt, File, k, n, stride)
	}
	return s.l.checkBlocks(r.bufs[slot].Bytes(stride), k)
}

// drain reaps reads in flight after an error; if it cannot, the reader
// drops its AIO context and reads with pread from then on.
func (r *DirectReader) drain() {
	for r.batch.Pending() > 0 {
		if _, err := r.batch.Wait(r.batch.Pending()); err != nil {
			r.batch.Close()
			r.batch = nil
			return
		}
	}
}
