package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Cluster metadata lives in two JetStream key-value buckets, replicated
// like the streams, and nowhere else (shard snapshots, in the object
// store snapBucket, are data: snapshot.go):
//
//   - metaBucket: one key per collection, "coll.<name>", holding its
//     collRecord (configuration, shard count, placement of replicas).
//     Written by the router that creates or drops the collection; every
//     node watches the bucket and opens or drops its replicas of shards.
//   - nodesBucket: one key per node, its nodeRecord, put again every
//     heartbeat. A node is live while its record is younger than the
//     lease (Options.Lease); the bucket's TTL removes the records of
//     nodes gone for long.
const (
	metaBucket  = "shoal-meta"
	nodesBucket = "shoal-nodes"
	collPrefix  = "coll."
)

// collRecord is a collection of the cluster.
type collRecord struct {
	Name string `json:"name"`
	// Config is the collection's shoalv1.CollectionConfig in protojson;
	// cfg is it parsed, by decodeColl (or by the create that made it).
	Config json.RawMessage `json:"config"`
	cfg    *shoalv1.CollectionConfig
	Shards int `json:"shards"`
	// Placement lists, per shard, the ids of the nodes that hold a
	// replica of it, in the order the router prefers them.
	Placement [][]string `json:"placement"`
	// Incarnation tells a collection from one of the same name dropped
	// before it: a node holding shard data of another incarnation drops
	// it and replays the new stream from its start.
	Incarnation   string `json:"incarnation"`
	CreatedUnixMs int64  `json:"created_unix_ms"`
	// Moves are the replica moves in flight (balance.go): the target is
	// in the shard's placement already, the source still.
	Moves []move `json:"moves,omitempty"`
	// rev is the record's revision in the bucket (0 if not known), for
	// compare-and-set updates.
	rev uint64
}

// nodeRecord is a node's membership record.
type nodeRecord struct {
	ID string `json:"id"`
	// Addr is the node's public gRPC address, which peers dial.
	Addr          string `json:"addr"`
	StartedUnixMs int64  `json:"started_unix_ms"`
	// Applied is, per shard stream, the sequence this node's replica has
	// applied, for the replicas that are not stopped; the compactor does
	// not purge a log past them.
	Applied map[string]uint64 `json:"applied,omitempty"`
	// NotServing lists the shard streams whose replica on this node is
	// catching up or stopped: it is no shard's compactor.
	NotServing []string `json:"not_serving,omitempty"`
}

// idRe is what node ids may be: they are KV keys and parts of file names.
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// maxCollName bounds a cluster collection's name so that its shards'
// local names ("<name>-s<shard>") stay within the server's 64 characters.
const maxCollName = 56

// maxShards bounds a collection's shard count.
const maxShards = 256

// shardName is the local collection that holds shard s of collection
// coll on a node. A local name parses back to one (coll, s) only:
// parseShardName splits at the last "-s".
func shardName(coll string, s int) string { return coll + "-s" + strconv.Itoa(s) }

// parseShardName is the inverse of shardName; ok is false for a name
// that is not a shard's.
func parseShardName(name string) (coll string, s int, ok bool) {
	i := strings.LastIndex(name, "-s")
	if i <= 0 {
		return "", 0, false
	}
	s, err := strconv.Atoi(name[i+2:])
	if err != nil || s < 0 || s >= maxShards || strconv.Itoa(s) != name[i+2:] {
		return "", 0, false
	}
	return name[:i], s, true
}

// streamName is the JetStream stream of shard s of r, and subject its one
// subject. Both name the incarnation, so that a create that lost a race
// for the name removes its own streams only.
func streamName(r collRecord, s int) string {
	return "shoal-" + r.Name + "-" + r.Incarnation + "-s" + strconv.Itoa(s)
}
func subject(r collRecord, s int) string {
	return "shoal.w." + r.Name + "." + r.Incarnation + "." + strconv.Itoa(s)
}

// place picks, for each of shards shards, replicas distinct nodes of
// live (sorted ids), spreading first replicas round robin.
func place(live []string, shards, replicas int) [][]string {
	ids := append([]string(nil), live...)
	sort.Strings(ids)
	replicas = min(replicas, len(ids))
	p := make([][]string, shards)
	for s := range p {
		for j := 0; j < replicas; j++ {
			p[s] = append(p[s], ids[(s+j)%len(ids)])
		}
	}
	return p
}

// meta is a node's handle on the two buckets.
type meta struct {
	coll  jetstream.KeyValue
	nodes jetstream.KeyValue
	snaps jetstream.ObjectStore // shard snapshots (snapshot.go)
}

// openMeta creates the buckets if missing (replicas: the JetStream
// replica count, lease: the nodes' lease) and opens them.
func openMeta(ctx context.Context, js jetstream.JetStream, replicas int, lease time.Duration) (*meta, error) {
	coll, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: metaBucket, Replicas: replicas, History: 1})
	if err != nil {
		return nil, fmt.Errorf("fleet: bucket %s: %w", metaBucket, err)
	}
	nodes, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: nodesBucket, Replicas: replicas, History: 1, TTL: 20 * lease})
	if err != nil {
		return nil, fmt.Errorf("fleet: bucket %s: %w", nodesBucket, err)
	}
	snaps, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: snapBucket, Replicas: replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("fleet: bucket %s: %w", snapBucket, err)
	}
	return &meta{coll: coll, nodes: nodes, snaps: snaps}, nil
}

// heartbeat puts the node's record, renewing its lease.
func (m *meta) heartbeat(ctx context.Context, r nodeRecord) error {
	b, _ := json.Marshal(r)
	_, err := m.nodes.Put(ctx, r.ID, b)
	return err
}

// createColl stores r unless a collection of its name exists, and
// returns the record's revision.
func (m *meta) createColl(ctx context.Context, r collRecord) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	return m.coll.Create(ctx, collPrefix+r.Name, b)
}

// updateColl replaces the record of r's collection if its revision is
// still r.rev.
func (m *meta) updateColl(ctx context.Context, r collRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = m.coll.Update(ctx, collPrefix+r.Name, b, r.rev)
	return err
}

// getColl reads one collection's record.
func (m *meta) getColl(ctx context.Context, name string) (collRecord, error) {
	e, err := m.coll.Get(ctx, collPrefix+name)
	if err != nil {
		return collRecord{}, err
	}
	r, err := decodeColl(e.Value())
	r.rev = e.Revision()
	return r, err
}

func decodeColl(b []byte) (collRecord, error) {
	var r collRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("fleet: collection record: %w", err)
	}
	if r.Shards < 1 || r.Shards > maxShards || len(r.Placement) != r.Shards {
		return r, fmt.Errorf("fleet: collection record %q: %d shards, %d placements", r.Name, r.Shards, len(r.Placement))
	}
	for _, m := range r.Moves {
		if m.Shard < 0 || m.Shard >= r.Shards {
			return r, fmt.Errorf("fleet: collection record %q: a move of shard %d", r.Name, m.Shard)
		}
	}
	r.cfg = &shoalv1.CollectionConfig{}
	if err := protojson.Unmarshal(r.Config, r.cfg); err != nil {
		return r, fmt.Errorf("fleet: collection record %q: config: %w", r.Name, err)
	}
	return r, nil
}
