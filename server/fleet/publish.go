package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// shardOf is the shard an id belongs to among shards: a mix of the id's
// bits (splitmix64's finaliser), so consecutive ids spread evenly.
func shardOf(id uint64, shards int) int {
	z := id + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(shards))
}

// groupIDs groups ids by shard, in their order.
func groupIDs(ids []uint64, shards int) map[int][]uint64 {
	by := make(map[int][]uint64)
	for _, id := range ids {
		s := shardOf(id, shards)
		by[s] = append(by[s], id)
	}
	return by
}

// shardOp is the operations of one write for one shard: each message a
// shard-level request of at most the NATS payload limit.
type shardOp struct {
	shard int
	msgs  []proto.Message
}

// publish appends each shard's messages to its log and returns the
// sequence of the last per shard. A write is acknowledged once
// JetStream has persisted it on a quorum of its servers. Each message
// carries an id, so a publish retried after a lost acknowledgement is
// stored once. When a shard's log cannot take its messages, publish
// fails with UNAVAILABLE naming the shards written and not; the others'
// writes stand (every operation is idempotent: retrying the call is
// safe).
func (n *Node) publish(ctx context.Context, r collRecord, op string, ops []shardOp) (seqs, error) {
	type result struct {
		shard int
		seq   uint64
		err   error
	}
	// Give up in time to answer UNAVAILABLE before the caller's
	// deadline: at most publishWait, or 90 % of what the deadline leaves.
	wait := publishWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)*9/10)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ch := make(chan result, len(ops))
	for _, so := range ops {
		go func() {
			var last uint64
			for _, m := range so.msgs {
				seq, err := n.publishOne(ctx, r, so.shard, op, m)
				if err != nil {
					ch <- result{so.shard, last, err}
					return
				}
				last = seq
			}
			ch <- result{so.shard, last, nil}
		}()
	}
	out := seqs{}
	var failed, written []string
	var firstErr error
	for range ops {
		res := <-ch
		if res.err != nil {
			failed = append(failed, strconv.Itoa(res.shard))
			if firstErr == nil {
				firstErr = res.err
			}
			continue
		}
		written = append(written, strconv.Itoa(res.shard))
		out[res.shard] = res.seq
	}
	if len(out) > 0 {
		grpc.SetHeader(ctx, metadata.Pairs(seqHeader, out.String()))
	}
	if len(failed) > 0 {
		return out, status.Errorf(codes.Unavailable, "collection %s: the logs of shards %s did not acknowledge the write (%v); shards [%s] took it; the write is idempotent: retry it", r.Name, strings.Join(failed, ","), firstErr, strings.Join(written, ","))
	}
	return out, nil
}

// publishOne appends one message to shard s's log, retrying for a while
// when no JetStream server answers (an election in progress).
func (n *Node) publishOne(ctx context.Context, r collRecord, s int, op string, m proto.Message) (uint64, error) {
	data, err := encodeOp(m)
	if err != nil {
		return 0, err
	}
	idb := make([]byte, 12)
	rand.Read(idb)
	id := hex.EncodeToString(idb)
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		msg := nats.NewMsg(subject(r, s))
		msg.Header.Set(opHeader, op)
		msg.Data = data
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ack, err := n.js.PublishMsg(pctx, msg, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return ack.Sequence, nil
		}
		if ctx.Err() != nil || !retryablePublish(err) {
			return 0, err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return 0, err
		}
		backoff = min(2*backoff, time.Second)
	}
}

// publishWait bounds how long a write waits for its logs to acknowledge
// it (an election of a stream's leader takes a few seconds).
const publishWait = 10 * time.Second

func retryablePublish(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrConnectionReconnecting)
}

// maxMessage is the largest log message a write makes: the NATS
// connection's payload limit, less room for headers.
func (n *Node) maxMessage() int {
	return max(int(n.nc.MaxPayload())-4096, 64<<10)
}
