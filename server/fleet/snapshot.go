package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Log compaction. A shard's log would grow without end; instead, one
// replica of each shard (its compactor: the first live node of the
// shard's placement whose replica is caught up) now and then stores a
// snapshot of its copy in the JetStream object store snapBucket, as the
// object snapObject(stream, seq), and purges the log up to seq. A replica
// that needs operations the log no longer holds (new, its disk lost, or
// down while the log moved on) bootstraps: it restores the newest
// snapshot and applies the log's tail after it.
//
// Why this is exact: seq is the replica's applied sequence read before
// the snapshot's cut, so the snapshot holds every operation up to seq
// and perhaps some after it; applying the log after seq to it gives the
// same state (every operation sets or removes state: apply.go).
//
// When: a snapshot is taken when the log holds, after the newest
// snapshot, at least max(Options.SnapshotBytes, a quarter of that
// snapshot's size) bytes, so snapshots cost at most about four times the
// bytes of the log they replace; or when no write came for two checks'
// time (CompactEvery) and the log holds at least max(1 MiB, 1/64 of the
// snapshot) after it, so that a replica that bootstraps after a load has
// little to replay. The log is purged up to the newest snapshot, but not past an
// operation a live replica (caught up or catching up, not stopped) still
// has to apply: such a replica would otherwise have to bootstrap.
// Replicas that are down do not hold the log back: they bootstrap when
// they return.
//
// The newest snapshot of a stream is never removed before a newer one is
// stored, and the log is never purged past it, so a snapshot covering
// the log's start always exists.
const snapBucket = "shoal-snapshots"

// snapChunk is the object store's chunk size for snapshots: below the
// NATS default maximum payload (1 MiB).
const snapChunk = 256 << 10

// snapObject names the snapshot of stream up to seq.
func snapObject(stream string, seq uint64) string {
	return fmt.Sprintf("%s/%020d", stream, seq)
}

// snapInfo is a stored snapshot.
type snapInfo struct {
	name string
	seq  uint64
	size uint64
}

// snapshotsOf lists the stored snapshots of stream, newest first.
func (n *Node) snapshotsOf(ctx context.Context, stream string) ([]snapInfo, error) {
	infos, err := n.meta.snaps.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []snapInfo
	for _, in := range infos {
		rest, ok := strings.CutPrefix(in.Name, stream+"/")
		if !ok || in.Deleted {
			continue
		}
		seq, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, snapInfo{in.Name, seq, in.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq > out[j].seq })
	return out, nil
}

// deleteSnapshots removes the stored snapshots of stream below sequence
// below.
func (n *Node) deleteSnapshots(ctx context.Context, stream string, below uint64) {
	snaps, err := n.snapshotsOf(ctx, stream)
	if err != nil {
		n.log.Warn("listing snapshots", "stream", stream, "err", err)
		return
	}
	for _, s := range snaps {
		if s.seq >= below {
			continue
		}
		if err := n.meta.snaps.Delete(ctx, s.name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			n.log.Warn("deleting a snapshot", "object", s.name, "err", err)
		}
	}
}

// compactAll compacts the logs of the shards this node is the
// compactor of (every Options.CompactEvery).
func (n *Node) compactAll() {
	for _, rep := range n.replicaList() {
		if !n.isCompactor(rep) {
			continue
		}
		if err := n.compactShard(rep); err != nil && n.ctx.Err() == nil {
			n.log.Warn("compacting a shard's log", "replica", rep.local, "err", err)
		}
	}
}

// isCompactor reports whether this node compacts rep's shard: it is the
// first live node of the shard's placement whose replica is not
// reported catching up or stopped. (Two nodes may briefly both think so
// while their views of the membership differ; both snapshots are valid.)
func (n *Node) isCompactor(rep *replica) bool {
	if !rep.serving() {
		return false
	}
	stream := streamName(rep.rec, rep.shard)
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.mu.colls[rep.rec.Name]
	if !ok || r.Incarnation != rep.rec.Incarnation {
		return false
	}
	for _, id := range r.Placement[rep.shard] {
		if id == n.opts.ID {
			return true
		}
		seen, ok := n.mu.nodes[id]
		if ok && n.isLive(seen) && !slices.Contains(seen.rec.NotServing, stream) {
			return false
		}
	}
	return false
}

// compactShard snapshots rep's shard when its log has grown enough since
// the newest snapshot, and purges the log behind that snapshot.
func (n *Node) compactShard(rep *replica) error {
	if n.opts.SnapshotBytes < 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Minute)
	defer cancel()
	name := streamName(rep.rec, rep.shard)
	st, err := n.js.Stream(ctx, name)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	state := info.State
	if !rep.snapKnown {
		snaps, err := n.snapshotsOf(ctx, name)
		if err != nil {
			return err
		}
		if len(snaps) > 0 {
			rep.snap = snaps[0]
		}
		rep.snapKnown = true
	}
	// The log's operations after the newest snapshot, and their bytes
	// (at the log's mean message size).
	var after uint64
	if base := max(rep.snap.seq, state.FirstSeq-1); state.FirstSeq > 0 && state.LastSeq > base {
		after = state.LastSeq - base
	}
	logBytes := uint64(0)
	if state.Msgs > 0 {
		logBytes = state.Bytes / state.Msgs * after
	}
	// Busy: the log after the snapshot reached its budget. Quiet: no
	// write for two checks' time, and what follows the snapshot is worth
	// replacing (replaying the log is far slower per byte than restoring
	// a snapshot: docs/BENCHMARKS.md, "Cluster"). The time is the log's
	// own, not "no growth since the last check": a snapshot slows the
	// writers down while it is taken, which must not count as a pause.
	busy := logBytes >= max(uint64(n.opts.SnapshotBytes), rep.snap.size/4)
	quiet := !state.LastTime.IsZero() && time.Since(state.LastTime) >= 2*n.opts.CompactEvery &&
		logBytes >= max(1<<20, rep.snap.size/64)
	if rep.applied.Load() > rep.snap.seq && (busy || quiet) {
		s, err := n.takeSnapshot(ctx, rep)
		if err != nil {
			return err
		}
		rep.snap = s
	}
	if rep.snap.seq == 0 {
		return nil
	}
	upto := min(rep.snap.seq, n.minApplied(rep))
	if upto < state.FirstSeq {
		return nil
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(upto+1)); err != nil {
		return fmt.Errorf("purging %s below %d: %w", name, upto+1, err)
	}
	n.log.Info("shard log purged", "stream", name, "below", upto+1, "snapshot", rep.snap.seq)
	return nil
}

// minApplied is the lowest applied sequence of the live replicas of
// rep's shard that are not stopped (this node's included).
func (n *Node) minApplied(rep *replica) uint64 {
	stream := streamName(rep.rec, rep.shard)
	low := rep.applied.Load()
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.mu.colls[rep.rec.Name]
	if rep.shard >= len(r.Placement) {
		return low
	}
	for _, id := range r.Placement[rep.shard] {
		seen, ok := n.mu.nodes[id]
		if !ok || !n.isLive(seen) || id == n.opts.ID {
			continue
		}
		if a, ok := seen.rec.Applied[stream]; ok {
			low = min(low, a)
		}
	}
	return low
}

// localSnapshot creates a snapshot of a local collection in the local
// server's snapshot directory under a new name, and returns its path.
func (n *Node) localSnapshot(ctx context.Context, local string) (string, error) {
	name := "fleet-snap-" + local + "-" + randHex(6)
	admin := shoalv1.NewAdminServiceClient(n.localConn)
	if _, err := admin.CreateSnapshot(n.localCtx(ctx), &shoalv1.CreateSnapshotRequest{Collection: local, Directory: name}); err != nil {
		return "", fmt.Errorf("snapshot of %s: %w", local, err)
	}
	return filepath.Join(n.snapDir, name), nil
}

// takeSnapshot stores a snapshot of rep in the object store and removes
// the shard's older ones.
func (n *Node) takeSnapshot(ctx context.Context, rep *replica) (snapInfo, error) {
	t0 := time.Now()
	seq := rep.applied.Load() // read before the cut: see the comment at the top
	if seq == 0 {
		return snapInfo{}, errors.New("nothing applied to snapshot")
	}
	dir, err := n.localSnapshot(ctx, rep.local)
	if err != nil {
		return snapInfo{}, err
	}
	defer os.RemoveAll(dir)
	if !rep.serving() {
		// A bootstrap began meanwhile: what the snapshot holds is not
		// known to match seq.
		return snapInfo{}, fmt.Errorf("replica %s stopped serving during its snapshot", rep.local)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(packDir(pw, dir)) }()
	stream := streamName(rep.rec, rep.shard)
	obj := snapObject(stream, seq)
	info, err := n.meta.snaps.Put(ctx, jetstream.ObjectMeta{Name: obj, Opts: &jetstream.ObjectMetaOptions{ChunkSize: snapChunk}}, pr)
	pr.CloseWithError(err)
	if err != nil {
		return snapInfo{}, fmt.Errorf("storing snapshot %s: %w", obj, err)
	}
	n.deleteSnapshots(ctx, stream, seq)
	n.log.Info("shard snapshot stored", "object", obj, "bytes", info.Size, "took", time.Since(t0).Round(time.Millisecond).String())
	return snapInfo{obj, seq, info.Size}, nil
}

// bootstrap replaces rep's copy by the newest snapshot of its shard,
// which must cover the log up to first-1 (the log starts at first).
// It runs in rep's apply loop.
func (n *Node) bootstrap(ctx context.Context, rep *replica, first uint64) error {
	t0 := time.Now()
	stream := streamName(rep.rec, rep.shard)
	snaps, err := n.snapshotsOf(ctx, stream)
	if err != nil {
		return err
	}
	if len(snaps) == 0 || snaps[0].seq+1 < first {
		err := fmt.Errorf("replica %s applied the log to %d, the log now starts at %d, and no snapshot covers the operations between: drop this node's data for the collection", rep.local, rep.applied.Load(), first)
		rep.broken.Store(&err)
		return err
	}
	s := snaps[0]
	rep.ready.Store(false)
	rep.readyAt.Store(math.MaxUint64) // until consume sets the log's end
	// Forget the applied record first: a crash from here on starts the
	// copy over, and finds the log's start past it again.
	if err := rep.reset(); err != nil {
		return err
	}
	name := "fleet-restore-" + rep.local + "-" + randHex(6)
	dir := filepath.Join(n.snapDir, name)
	defer os.RemoveAll(dir)
	obj, err := n.meta.snaps.Get(ctx, s.name)
	if err != nil {
		return fmt.Errorf("reading snapshot %s: %w", s.name, err)
	}
	err = unpackDir(obj, dir)
	if err == nil {
		// Read to the end, where the object store checks the digest.
		_, err = io.Copy(io.Discard, obj)
	}
	obj.Close()
	if err != nil {
		return fmt.Errorf("reading snapshot %s: %w", s.name, err)
	}
	lctx := n.localCtx(ctx)
	cc := shoalv1.NewCollectionServiceClient(n.localConn)
	if _, err := cc.DropCollection(lctx, &shoalv1.DropCollectionRequest{Name: rep.local}); err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("dropping %s before its restore: %w", rep.local, err)
	}
	admin := shoalv1.NewAdminServiceClient(n.localConn)
	if _, err := admin.RestoreSnapshot(lctx, &shoalv1.RestoreSnapshotRequest{Directory: name, Collection: rep.local}); err != nil {
		return fmt.Errorf("restoring %s from %s: %w", rep.local, s.name, err)
	}
	rep.advance(s.seq)
	if err := rep.record(); err != nil {
		return err
	}
	rep.bootstraps.Add(1)
	n.log.Info("replica bootstrapped from a snapshot", "replica", rep.local, "snapshot", s.name, "bytes", s.size, "took", time.Since(t0).Round(time.Millisecond).String())
	return nil
}

// cleanSnapDir removes what snapshots and bootstraps a crash left in the
// local server's snapshot directory.
func (n *Node) cleanSnapDir() {
	ents, _ := os.ReadDir(n.snapDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "fleet-") {
			os.RemoveAll(filepath.Join(n.snapDir, e.Name()))
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
