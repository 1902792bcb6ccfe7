package benchcli

import (
	"sync/atomic"

	"context"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"time"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// ingestTarget is what `shoal ingestbench` loads: an index opened in
// this process, or a collection of a running server. Its methods are
// safe for concurrent use.
type ingestTarget interface {
	upsert(ctx context.Context, ids []uint64, vecs [][]float32) error
	delete(ctx context.Context, ids []uint64) error
	search(ctx context.Context, q []float32, k, nprobe int) ([]index.Result, error)
	// sync makes the writes so far durable (library NoSync runs).
	sync() error
	// drain returns once background maintenance has folded every tail.
	drain(ctx context.Context) error
	stats(ctx context.Context) (ingestStats, error)
	// writeBytes is what the process holding the index wrote to storage
	// (/proc/<pid>/io write_bytes); -1 where unknown.
	writeBytes() int64
	// close ends the target; indexBytes is then the bytes on disk.
	close() error
	indexBytes() int64
	// diskBytes is the bytes on disk now (-1 where unknown).
	diskBytes() int64
}

// ingestStats are the counters ingestbench reports.
type ingestStats struct {
	live, tailBytes, buffer                          int64
	heads                                            int
	splits, merges, reassigned                       int64
	segWrites, walWrites, flushWrites, compactWrites int64
	lockP99, lockMax                                 time.Duration
	busy                                             int64 // writes pushed back (server)
}

// libraryTarget is an index opened by the benchmark.
type libraryTarget struct {
	ix  *index.Index
	dir string
}

func (l *libraryTarget) upsert(_ context.Context, ids []uint64, vecs [][]float32) error {
	return l.ix.Upsert(ids, vecs)
}

func (l *libraryTarget) delete(_ context.Context, ids []uint64) error {
	_, err := l.ix.Delete(ids)
	return err
}

func (l *libraryTarget) search(_ context.Context, q []float32, k, nprobe int) ([]index.Result, error) {
	return l.ix.Search(q, k, &index.SearchParams{NProbe: nprobe})
}

func (l *libraryTarget) sync() error                 { return l.ix.Sync() }
func (l *libraryTarget) drain(context.Context) error { return l.ix.Drain() }
func (l *libraryTarget) writeBytes() int64           { return clikit.ProcIO("write_bytes") }
func (l *libraryTarget) close() error                { return l.ix.Close() }
func (l *libraryTarget) indexBytes() int64           { return clikit.DirSize(l.dir) }
func (l *libraryTarget) diskBytes() int64            { return clikit.DirSize(l.dir) }
func (l *libraryTarget) stats(context.Context) (ingestStats, error) {
	st := l.ix.Stats()
	return ingestStats{
		live: st.Live, tailBytes: st.TailBytes, buffer: st.UpdateBuffer, heads: st.Heads,
		splits: st.Splits, merges: st.Merges, reassigned: st.Reassigned,
		segWrites: st.SegmentWrites, walWrites: st.WALWrites, flushWrites: st.FlushWrites, compactWrites: st.CompactWrites,
		lockP99: st.MaintLockP99, lockMax: st.MaintLockMax,
	}, nil
}

// serverTarget is a collection of a running server on loopback.
type serverTarget struct {
	c          *client.Client
	collection string
	pid        int          // the server's process, for write_bytes (0: unknown)
	dataDir    string       // the server's data directory, for indexBytes
	busy       atomic.Int64 // upserts pushed back
}

// upsert retries a write the server pushed back (RESOURCE_EXHAUSTED:
// maintenance is behind), as a client should, after a back-off; the wait
// counts in the call's latency.
func (s *serverTarget) upsert(ctx context.Context, ids []uint64, vecs [][]float32) error {
	for {
		err := s.c.Upsert(ctx, s.collection, ids, vecs)
		if status.Code(err) != codes.ResourceExhausted {
			return err
		}
		s.busy.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *serverTarget) delete(ctx context.Context, ids []uint64) error {
	_, err := s.c.Delete(ctx, s.collection, ids)
	return err
}

func (s *serverTarget) search(ctx context.Context, q []float32, k, nprobe int) ([]index.Result, error) {
	hits, err := s.c.Search(ctx, s.collection, q, k, &shoalv1.SearchParams{Nprobe: uint32(nprobe)})
	res := make([]index.Result, len(hits))
	for i, h := range hits {
		res[i] = index.Result{ID: h.GetId(), Distance: h.GetDistance()}
	}
	return res, err
}

// sync does nothing: every acknowledged server write is durable.
func (s *serverTarget) sync() error { return nil }

// drain waits until the collection's tails stop shrinking for two
// seconds: background maintenance has done the folds that are due (it
// leaves short tails to a later fold; the server has no Drain).
func (s *serverTarget) drain(ctx context.Context) error {
	last, still := int64(-1), 0
	for still < 10 {
		st, err := s.stats(ctx)
		if err != nil {
			return err
		}
		if st.tailBytes == last {
			still++
		} else {
			last, still = st.tailBytes, 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

func (s *serverTarget) stats(ctx context.Context) (ingestStats, error) {
	st, err := s.c.Collections.GetStats(ctx, &shoalv1.GetStatsRequest{Collection: s.collection})
	if err != nil {
		return ingestStats{}, err
	}
	return ingestStats{
		live: int64(st.GetVectorCount()), tailBytes: int64(st.GetTailBytes()), heads: int(st.GetHeads()),
		splits: int64(st.GetSplits()), merges: int64(st.GetMerges()), reassigned: int64(st.GetReassigned()),
		busy: s.busy.Load(),
	}, nil
}

func (s *serverTarget) writeBytes() int64 {
	if s.pid == 0 {
		return -1
	}
	return clikit.ProcIOOf(s.pid, "write_bytes")
}

func (s *serverTarget) close() error { return s.c.Close() }

func (s *serverTarget) diskBytes() int64 { return s.indexBytes() }

func (s *serverTarget) indexBytes() int64 {
	if s.dataDir == "" {
		return -1
	}
	return clikit.DirSize(s.dataDir)
}
