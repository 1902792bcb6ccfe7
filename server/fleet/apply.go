package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/shoaldb/shoal/internal/filecopy"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Operations of a shard's log. A message's "Shoal-Op" header names the
// operation and its data is the shard-level request in protobuf, the
// collection field left empty (the applier sets its local name).
const (
	opHeader   = "Shoal-Op"
	opUpsert   = "upsert"
	opDelete   = "delete"
	opLabels   = "labels"
	opPayloads = "payloads"
)

// replica is this node's copy of one shard: a local collection that an
// apply loop keeps equal to the shard's log, in log order.
//
// Every operation of the log sets state (a vector, its labels, its
// payload) or removes it, so applying a suffix of the log again to a
// state that already holds it gives the same state. The applied sequence
// is therefore recorded lazily (appliedFile, every flushEvery and at
// stop), after the writes it covers are durable in the local collection:
// a restart replays at most the operations since the last record, and
// the collection ends as if each had applied exactly once.
type replica struct {
	rec      collRecord // the collection, of the incarnation this replica holds
	local    string     // shardName(rec.Name, shard)
	shard    int
	file     string // applied-sequence record
	applied  atomic.Uint64
	saved    uint64 // the sequence last recorded in file
	rejected atomic.Uint64
	// ready is set once the copy has caught up: it had data at start, or
	// it has applied the log up to readyAt, the log's last sequence when
	// it started (or bootstrapped). A replica not ready serves no reads.
	ready   atomic.Bool
	readyAt atomic.Uint64
	// bootstraps counts the copy's restores from snapshots.
	bootstraps atomic.Uint64
	// snap is the shard's newest snapshot as this node knows it
	// (snapKnown: looked up); used by the compactor loop only.
	snap      snapInfo
	snapKnown bool
	// log receives the replica's logs (the node's; none by default).
	log *slog.Logger
	// broken is set when the log no longer holds the operations after
	// applied (they were removed): the replica cannot catch up by
	// replay and stops serving (status: see err).
	broken atomic.Pointer[error]
	// mu guards saved, dropped and moved.
	mu    sync.Mutex
	moved chan struct{} // closed and replaced when applied advances
	// dropped is set when the replica's collection is dropped: its
	// applied record is removed and must not be written again.
	dropped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// appliedRecord is the content of a replica's applied file.
type appliedRecord struct {
	Incarnation string `json:"incarnation"`
	Seq         uint64 `json:"seq"`
}

func newReplica(dir string, r collRecord, shard int) *replica {
	local := shardName(r.Name, shard)
	return &replica{rec: r, local: local, shard: shard, log: slog.New(slog.DiscardHandler),
		file: filepath.Join(dir, local+".json"), moved: make(chan struct{})}
}

// load reads the applied record; fresh is true when there is none for
// this incarnation (the local collection must then be created empty).
func (r *replica) load() (fresh bool, err error) {
	b, err := os.ReadFile(r.file)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("fleet: %w", err)
	}
	var a appliedRecord
	if err := json.Unmarshal(b, &a); err != nil {
		// A torn record: replay the whole log into a fresh copy.
		return true, nil
	}
	if a.Incarnation != r.rec.Incarnation {
		return true, nil
	}
	r.applied.Store(a.Seq)
	r.saved = a.Seq
	return false, nil
}

// record records the applied sequence (write, fsync, rename, fsync
// dir), unless it is recorded already or the replica was dropped.
func (r *replica) record() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.save()
}

// save is record with r.mu held.
func (r *replica) save() error {
	seq := r.applied.Load()
	if seq == r.saved || r.dropped {
		return nil
	}
	b, _ := json.Marshal(appliedRecord{Incarnation: r.rec.Incarnation, Seq: seq})
	err := filecopy.WriteAtomic(r.file, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("fleet: applied record of %s: %w", r.local, err)
	}
	r.saved = seq
	return nil
}

// reset forgets the applied record (before a fresh copy replays the log).
func (r *replica) reset() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied.Store(0)
	r.saved = 0
	if err := os.Remove(r.file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// serving reports whether the replica serves reads: caught up, not
// stopped.
func (r *replica) serving() bool { return r.ready.Load() && r.broken.Load() == nil }

// catchUp marks the replica ready once it has applied target.
func (r *replica) catchUp(target uint64) {
	r.readyAt.Store(target)
	if r.applied.Load() >= target {
		r.setReady()
	}
}

// setReady marks the replica ready, logging when it was not.
func (r *replica) setReady() {
	if !r.ready.Swap(true) {
		r.log.Info("replica caught up", "replica", r.local, "applied", r.applied.Load())
	}
}

// advance publishes a new applied sequence to waiters.
func (r *replica) advance(seq uint64) {
	r.mu.Lock()
	r.applied.Store(seq)
	if seq >= r.readyAt.Load() {
		r.setReady()
	}
	close(r.moved)
	r.moved = make(chan struct{})
	r.mu.Unlock()
}

// waitApplied waits until the replica has applied seq, ctx ends, or the
// replica breaks.
func (r *replica) waitApplied(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		ch := r.moved
		r.mu.Unlock()
		if r.applied.Load() >= seq {
			return nil
		}
		if p := r.broken.Load(); p != nil {
			return *p
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return status.Errorf(codes.DeadlineExceeded, "replica %s has applied %d of the %d writes asked for before the deadline", r.local, r.applied.Load(), seq)
		}
	}
}

// applier applies one operation to the local collection.
type applier func(ctx context.Context, op string, local string, data []byte) error

// booter replaces the replica's copy by a snapshot covering the log up
// to first-1 (Node.bootstrap).
type booter func(ctx context.Context, r *replica, first uint64) error

// errGap is returned by consume when the log skipped operations (purged
// behind a snapshot while this replica lagged): the next round
// bootstraps.
var errGap = errors.New("the log skipped operations")

// run consumes the shard's log from the applied sequence on until ctx
// ends, reconnecting after errors.
func (r *replica) run(ctx context.Context, js jetstream.JetStream, apply applier, boot booter) {
	defer close(r.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.consume(ctx, js, apply, boot)
		if ctx.Err() != nil {
			return
		}
		if r.broken.Load() != nil {
			r.log.Warn("replica stopped", "replica", r.local, "err", err)
			return
		}
		r.log.Warn("replica consumer restarts", "replica", r.local, "err", err, "applied", r.applied.Load())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// consume applies the log from the applied sequence on. When the log no
// longer holds the next operation it bootstraps from a snapshot first;
// a replica not yet ready becomes ready at the log's current end.
func (r *replica) consume(ctx context.Context, js jetstream.JetStream, apply applier, boot booter) error {
	st, err := js.Stream(ctx, streamName(r.rec, r.shard))
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	if first := info.State.FirstSeq; first > r.applied.Load()+1 {
		if err := boot(ctx, r, first); err != nil {
			return err
		}
	}
	if !r.ready.Load() {
		r.catchUp(info.State.LastSeq)
	}
	cfg := jetstream.OrderedConsumerConfig{}
	if a := r.applied.Load(); a > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = a + 1
	}
	cons, err := js.OrderedConsumer(ctx, streamName(r.rec, r.shard), cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		seq := md.Sequence.Stream
		applied := r.applied.Load()
		if seq <= applied {
			continue
		}
		if seq > applied+1 {
			return fmt.Errorf("replica %s applied the log to %d, and its next operation is %d: %w", r.local, applied, seq, errGap)
		}
		if err := r.applyOne(ctx, apply, msg.Headers().Get(opHeader), msg.Data()); err != nil {
			return err
		}
		r.advance(seq)
	}
}

// applyOne applies an operation, retrying while the local collection
// cannot take it for now; a damaged one (DATA_LOSS) breaks the replica. An operation the collection refuses for what
// it is (a label name too long, a payload over the limit) is refused the
// same way by every replica, which all skip it: it is counted in
// rejected and logged.
func (r *replica) applyOne(ctx context.Context, apply applier, op string, data []byte) error {
	backoff := 10 * time.Millisecond
	for {
		err := apply(ctx, op, r.local, data)
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied, codes.OutOfRange:
			r.rejected.Add(1)
			return nil
		case codes.DataLoss:
			// The local collection is damaged: retrying cannot help.
			// The replica stops, and reads go to the others.
			err := fmt.Errorf("replica %s is damaged, stopped at sequence %d: %v (drop this node's data for the collection to rebuild it from the log)", r.local, r.applied.Load(), status.Convert(err).Message())
			r.broken.Store(&err)
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

// encodeOp is the log message of a shard-level request.
func encodeOp(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// opTypes makes the request of each operation.
var opTypes = map[string]func() proto.Message{
	opUpsert:       func() proto.Message { return &shoalv1.UpsertRequest{} },
	opDelete:       func() proto.Message { return &shoalv1.DeleteRequest{} },
	opLabels:       func() proto.Message { return &shoalv1.SetLabelsRequest{} },
	opPayloads:     func() proto.Message { return &shoalv1.SetPayloadsRequest{} },
	opCreateTenant: func() proto.Message { return &shoalv1.CreateTenantRequest{} },
	opDeleteTenant: func() proto.Message { return &shoalv1.DeleteTenantRequest{} },
	opGrant:        func() proto.Message { return &shoalv1.GrantRequest{} },
	opRevoke:       func() proto.Message { return &shoalv1.RevokeRequest{} },
}

// decodeOp parses an operation's request and names its collection (every
// request type has a "collection" field).
func decodeOp(op, local string, data []byte) (proto.Message, error) {
	mk, ok := opTypes[op]
	if !ok {
		return nil, fmt.Errorf("unknown operation %q", op)
	}
	m := mk()
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, err
	}
	pr := m.ProtoReflect()
	pr.Set(pr.Descriptor().Fields().ByName("collection"), protoreflect.ValueOfString(local))
	return m, nil
}
