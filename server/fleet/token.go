package fleet

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Metadata keys of cluster mode. A write's response carries seqHeader:
// for each shard it wrote, the log sequence of its write ("0:17,2:40").
// A read (Search, SearchBatch, Get) that sends those sequences back in
// minSeqKey is served by replicas that have applied them (read your
// writes); it waits for them up to its deadline. A read that sends
// partialKey "allow" gets the shards that answered when others could not,
// with unavailableKey in its trailer naming those that did not; without
// it, any unavailable shard fails the call with UNAVAILABLE.
const (
	seqHeader      = "shoal-seq"
	minSeqKey      = "shoal-min-seq"
	partialKey     = "shoal-partial"
	unavailableKey = "shoal-unavailable-shards"
)

// seqs maps shard → log sequence.
type seqs map[int]uint64

func (s seqs) String() string {
	keys := make([]int, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strconv.Itoa(k) + ":" + strconv.FormatUint(s[k], 10)
	}
	return strings.Join(parts, ",")
}

// parseSeqs parses a token; shards at or above nshards are an error.
func parseSeqs(tok string, nshards int) (seqs, error) {
	out := seqs{}
	for _, part := range strings.Split(tok, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, b, ok := strings.Cut(part, ":")
		sh, err1 := strconv.Atoi(a)
		seq, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || sh < 0 || sh >= nshards {
			return nil, fmt.Errorf("%s %q: want shard:sequence pairs, comma-separated, shards below %d", minSeqKey, tok, nshards)
		}
		out[sh] = max(out[sh], seq)
	}
	return out, nil
}

// incoming returns the first value of key in ctx's incoming metadata.
func incoming(ctx context.Context, key string) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
