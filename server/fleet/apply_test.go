package fleet

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestApplyOne: a refused operation is skipped and counted, a transient
// error is retried until it passes, and a damaged collection breaks the
// replica; the applied record survives a reload and names its
// incarnation.
func TestApplyOne(t *testing.T) {
	dir := t.TempDir()
	rec := collRecord{Name: "c", Shards: 1, Placement: [][]string{{"n"}}, Incarnation: "aa"}
	r := newReplica(dir, rec, 0)
	errs := []error{status.Error(codes.Unavailable, "busy"), status.Error(codes.ResourceExhausted, "behind"), nil}
	calls := 0
	retry := func(context.Context, string, string, []byte) error { calls++; return errs[calls-1] }
	if err := r.applyOne(context.Background(), retry, opUpsert, nil); err != nil || calls != 3 {
		t.Fatalf("transient errors: %v after %d calls, want nil after 3", err, calls)
	}
	refuse := func(context.Context, string, string, []byte) error {
		return status.Error(codes.InvalidArgument, "label too long")
	}
	if err := r.applyOne(context.Background(), refuse, opUpsert, nil); err != nil || r.rejected.Load() != 1 {
		t.Fatalf("refused: %v, %d rejected; want nil, 1", err, r.rejected.Load())
	}
	damaged := func(context.Context, string, string, []byte) error { return status.Error(codes.DataLoss, "checksum") }
	if err := r.applyOne(context.Background(), damaged, opUpsert, nil); err == nil || r.broken.Load() == nil {
		t.Fatalf("damaged: %v, broken %v; want an error and a broken replica", err, r.broken.Load())
	}
	if err := r.waitApplied(context.Background(), 5); err == nil {
		t.Fatal("waitApplied on a broken replica returned nil")
	}

	r2 := newReplica(dir, rec, 1)
	r2.advance(41)
	if err := r2.record(); err != nil {
		t.Fatal(err)
	}
	again := newReplica(dir, rec, 1)
	if fresh, err := again.load(); err != nil || fresh || again.applied.Load() != 41 {
		t.Fatalf("reload: fresh %v, applied %d, %v; want false, 41, nil", fresh, again.applied.Load(), err)
	}
	other := rec
	other.Incarnation = "bb"
	if fresh, err := newReplica(dir, other, 1).load(); err != nil || !fresh {
		t.Fatalf("another incarnation: fresh %v, %v; want true", fresh, err)
	}
}

// TestShardNames: local names parse back to their collection and shard,
// and ids spread over shards evenly.
func TestShardNames(t *testing.T) {
	for _, tc := range []struct {
		coll string
		s    int
	}{{"a", 0}, {"a-s1", 2}, {"x-s-s", 17}} {
		c, s, ok := parseShardName(shardName(tc.coll, tc.s))
		if !ok || c != tc.coll || s != tc.s {
			t.Errorf("parseShardName(shardName(%q, %d)) = %q, %d, %v", tc.coll, tc.s, c, s, ok)
		}
	}
	for _, bad := range []string{"a", "a-s", "a-s01", "a-sx", "-s1", "a-s-1", "a-s999"} {
		if _, _, ok := parseShardName(bad); ok {
			t.Errorf("parseShardName(%q) accepted", bad)
		}
	}
	counts := make([]int, 3)
	for id := uint64(0); id < 30000; id++ {
		counts[shardOf(id, 3)]++
	}
	for s, n := range counts {
		if n < 9500 || n > 10500 {
			t.Errorf("shard %d holds %d of 30000 consecutive ids", s, n)
		}
	}
	if _, err := parseSeqs("0:5,2:7", 3); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"3:1", "x", "0:-1", "0:1:2"} {
		if _, err := parseSeqs(bad, 3); err == nil {
			t.Errorf("parseSeqs(%q) accepted", bad)
		}
	}
}
