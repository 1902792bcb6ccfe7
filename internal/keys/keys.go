// Package keys is the one registry of the record kinds Shoal keeps in
// Pebble, as Pebble keeps its own key kinds in one place: every kind's
// prefix byte, key and value encoding, owner and format are listed in
// Kinds, and every package builds its keys through this package, so two
// owners can never pick the same prefix (TestKindsDistinct) and
// docs/format.md names every kind (TestFormatDocNamesEveryKind).
//
// Two key spaces exist. The store's own (package pebblestore: postings'
// directory, metadata, caller records, shared-DB namespaces) and, inside
// its caller-record space, the records of one index (packages index,
// tenant and filter). A record kind's full Pebble key is
// [namespace prefix] 'u' kind … (docs/format.md).
package keys

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// Kind is the first byte of a record key in the caller-record space of a
// posting store.
type Kind byte

// Record kinds of one index. Numbers in keys are big-endian, so that
// Pebble's byte order is their numeric order.
const (
	// Append is a copy in a posting's tail: posting u32, seq u64 →
	// id u64 LE, version u8, row (index, update log).
	Append Kind = 'a'
	// State is an id's state byte once it was updated: id u64 → state u8
	// (index, version map).
	State Kind = 'r'
	// Vector is an upserted vector: id u64 → row (index).
	Vector Kind = 'v'
	// TreeOp is a tree edit of maintenance: seq u64 → kind u8, … (index,
	// tree log).
	TreeOp Kind = 't'
	// TreeFile names the current tree file: (no key bytes) → seq u64,
	// name (index, tree log).
	TreeFile Kind = 'T'
	// Retire names a posting whose old content searches may still read:
	// posting u32 → ids u64 LE × n (index, maintenance).
	Retire Kind = 'x'
	// Tenant marks a tenant as existing: tenant u32 → empty (tenant).
	Tenant Kind = 'n'
	// Access is an id's access record: id u64 → vv u8, tenant u32 LE × n
	// (tenant).
	Access Kind = 'o'
	// Shortlist is one shortlist of a tenant: tenant u32, posting u32 →
	// rows u32 LE, centroid f32 LE × dim (tenant).
	Shortlist Kind = 's'
	// Label is an id's labels: id u64 → format u8, label u32 LE × n
	// (filter).
	Label Kind = 'l'
	// Payload is an id's payload: id u64 → format u8, compact JSON object
	// (index).
	Payload Kind = 'P'
	// LabelName maps a label name to its id: name bytes → id u32 LE;
	// with no name bytes, the floor of names' ids: u64 LE (index).
	LabelName Kind = 'N'
	// IndexedFields lists the payload fields labels are derived from: (no
	// key bytes) → format u8, JSON array of strings (index).
	IndexedFields Kind = 'F'
)

// Store key prefixes of package pebblestore, ahead of any record kind.
const (
	// StoreMeta is a named metadata blob: 'm' name → value.
	StoreMeta byte = 'm'
	// StoreOverride is a posting's location newer than the directory
	// blob: 'p' posting u32 → location.
	StoreOverride byte = 'p'
	// StoreUser is the caller-record space: 'u' Kind … → value.
	StoreUser byte = 'u'
	// StoreNamespace prefixes every key of one index in a shared
	// database: 'n' namespace u32 → (a whole store's keys).
	StoreNamespace byte = 'n'
	// StoreRegistry maps a shared database's directory names to
	// namespaces: 'r' name → namespace u32, state u8.
	StoreRegistry byte = 'r'
)

// Info documents one key kind.
type Info struct {
	Prefix byte
	Name   string // as docs/format.md heads its section
	Owner  string // the package (and file) that writes it
	Key    string
	Value  string
	// Space is "record" for the caller-record space of one index, "store"
	// for pebblestore's own keys, "shared" for a shared database's top
	// level.
	Space string
}

// Kinds lists every key kind Shoal writes.
var Kinds = []Info{
	{byte(Append), "append", "index (update.go, maintain.go)", "'a' posting u32, seq u64", "id u64 LE, version u8, row", "record"},
	{byte(State), "state", "index (update.go)", "'r' id u64", "state u8: 0x80|version, or version for a deleted id", "record"},
	{byte(Vector), "vector", "index (update.go)", "'v' id u64", "row in the element type", "record"},
	{byte(TreeOp), "tree op", "index (treelog.go)", "'t' seq u64", "1, p u32, q u32, c1, c2 f32 LE × dim (split) | 2, p u32 (remove)", "record"},
	{byte(TreeFile), "tree file", "index (treelog.go)", "'T'", "seq u64 BE, file name", "record"},
	{byte(Retire), "retire", "index (retire.go)", "'x' posting u32", "ids u64 LE × n kept (split) or empty (merge)", "record"},
	{byte(Tenant), "tenant", "tenant (curator.go)", "'n' tenant u32", "empty", "record"},
	{byte(Access), "access", "tenant (access.go)", "'o' id u64", "vv u8, owner u32 LE, granted u32 LE × n", "record"},
	{byte(Shortlist), "shortlist", "tenant (shortlist.go)", "'s' tenant u32, posting u32", "rows u32 LE, centroid f32 LE × dim", "record"},
	{byte(Label), "label", "index/filter (labels.go)", "'l' id u64", "format u8 (1), label u32 LE × n ascending", "record"},
	{byte(Payload), "payload", "index (payloads.go)", "'P' id u64", "format u8 (1), compact JSON object", "record"},
	{byte(LabelName), "label name", "index (labelnames.go)", "'N' name | 'N'", "id u32 LE | floor u64 LE", "record"},
	{byte(IndexedFields), "indexed fields", "index (payloadlabels.go)", "'F'", "format u8 (1), JSON array of field names", "record"},
	{StoreMeta, "meta", "pebblestore (pebblestore.go)", "'m' name", "blob (the manifest under \"index\", the directory under \"postings\")", "store"},
	{StoreOverride, "override", "pebblestore (directory.go)", "'p' posting u32", "location: segment u32, offset, length", "store"},
	{StoreUser, "user", "pebblestore (kv.go)", "'u' record key", "record value", "store"},
	{StoreNamespace, "namespace", "pebblestore (shared.go)", "'n' namespace u32, store key", "store value", "shared"},
	{StoreRegistry, "registry", "pebblestore (shared.go)", "'r' directory name", "namespace u32, state u8", "shared"},
}

// ID returns the key of kind k for id: k, id u64.
func ID(k Kind, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{byte(k)}, id)
}

// U32 returns the key of kind k for a: k, a u32.
func U32(k Kind, a uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{byte(k)}, a)
}

// U32U32 returns the key of kind k for a and b: k, a u32, b u32.
func U32U32(k Kind, a, b uint32) []byte {
	return binary.BigEndian.AppendUint32(U32(k, a), b)
}

// U32U64 returns the key of kind k for a and b: k, a u32, b u64.
func U32U64(k Kind, a uint32, b uint64) []byte {
	return binary.BigEndian.AppendUint64(U32(k, a), b)
}

// Prefix returns the one-byte prefix of every key of kind k.
func Prefix(k Kind) []byte { return []byte{byte(k)} }

// SortedIDs returns the positions of ids in increasing id order and their
// keys of kind k in that order: the form a store's GetSorted reads many
// records in, with one iterator.
func SortedIDs(k Kind, ids []uint64) (order []int, ks [][]byte) {
	order = make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	ks = make([][]byte, len(ids))
	for j, i := range order {
		ks[j] = ID(k, ids[i])
	}
	return order, ks
}
