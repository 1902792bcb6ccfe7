package memstore

import "strings"

// The caller records are a persistent treap: a change copies the path it
// touches and leaves every existing node as it was, so a reader that took
// the root under the lock reads a consistent snapshot after unlocking,
// for as long as it likes, and a batch is published by swapping one root.
// A node's priority is a hash of its key, so a tree's shape depends only
// on the keys it holds.

// record is a node of the treap. Nodes are never modified once reachable
// from a published root.
type record struct {
	key         string
	value       []byte
	prio        uint64
	left, right *record
}

// priority is the treap priority of key: FNV-1a, then a 64-bit finalizer
// (MurmurHash3's fmix64) so that keys differing in their last byte
// differ in the high bits.
func priority(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// get returns the record of key, or nil.
func (n *record) get(key string) *record {
	for n != nil {
		switch c := strings.Compare(key, n.key); {
		case c < 0:
			n = n.left
		case c > 0:
			n = n.right
		default:
			return n
		}
	}
	return nil
}

// split returns the trees of the keys below key and of the others,
// copying the nodes on the path.
func split(n *record, key string) (below, rest *record) {
	if n == nil {
		return nil, nil
	}
	c := *n
	if n.key < key {
		c.right, rest = split(n.right, key)
		return &c, rest
	}
	below, c.left = split(n.left, key)
	return below, &c
}

// join returns the tree of the keys of a and b, every key of a being
// below every key of b, copying the nodes on the seam.
func join(a, b *record) *record {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if a.prio >= b.prio {
		c := *a
		c.right = join(a.right, b)
		return &c
	}
	c := *b
	c.left = join(a, b.left)
	return &c
}

// successor is the least key above key.
func successor(key string) string { return key + "\x00" }

// set returns n with key holding value.
func (n *record) set(key string, value []byte) *record {
	below, rest := split(n, key)
	_, above := split(rest, successor(key))
	return join(join(below, &record{key: key, value: value, prio: priority(key)}), above)
}

// deleteRange returns n without the keys in [start, end); unbounded
// above if open.
func (n *record) deleteRange(start, end string, open bool) *record {
	below, rest := split(n, start)
	if open {
		return below
	}
	_, above := split(rest, end)
	return join(below, above)
}

// ascend calls fn for the records with keys from from on, in key order,
// until fn returns false; it reports whether fn never did.
func (n *record) ascend(from string, fn func(*record) bool) bool {
	if n == nil {
		return true
	}
	if n.key >= from {
		if !n.left.ascend(from, fn) || !fn(n) {
			return false
		}
	}
	return n.right.ascend(from, fn)
}
