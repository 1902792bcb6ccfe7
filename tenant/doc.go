// Package tenant is Shoal's multi-tenancy, after Curator (Jin et al.,
// arXiv 2401.07119): who may read which vectors of a collection, and the
// per-tenant indexes, cut from one shared clustering tree, that make a
// tenant's search as fast as a private index's.
//
// A tenant is a uint32 id other than 0. Every vector has at most one owner
// tenant and may be granted to others; a tenant may read the vectors on
// its access list (Lists: copy-on-write roaring bitmaps), which holds what
// it owns and what it was granted.
//
// A Curator is the tenant state of one index: the lists, each id's access
// record and value version, and every tenant's shortlists (shortlist.go):
// postings holding a row for every vector the tenant may read, cut along
// the shared clustering tree. A tenant search reads the nearest of its
// shortlists; the shared tree and heads are not copied, and the memory
// per tenant is one float16 centroid per shortlist.
//
// The Curator does not own the index: it stages its records into the
// batches of the index's writes (Stage* methods), and reaches the rest
// through Host: liveness of ids, stored vectors, the shared tree, posting
// id allocation and the writer lock. Package index implements Host.
//
// # Records
//
// In the caller-record space of the index's posting store (kinds in
// package internal/keys, layouts in docs/format.md), each written in the
// same batch as the write it belongs to:
//
//	'n' tenant u32 (BE)               → (empty)             the tenant exists
//	'o' id u64 (BE)                   → vv u8, u32 LE × n   id's access record: its
//	                                                        value version and the tenants
//	                                                        that may read it, owner (or 0) first
//	's' tenant u32 (BE), posting u32  → rows u32 LE, centroid f32 LE × dim
//	                                                        one shortlist of the tenant
//
// The value version vv counts upserts of an id with an access record;
// shortlist rows carry it in their version byte, so a row is current when
// its id is live, its vv is the id's and the tenant may read the id. (The
// version of the shared copies does not serve: maintenance changes it
// when it re-places a vector, without changing the vector.) An id's
// record outlives a Delete, with no tenants, to keep its vv.
//
// # Concurrency
//
// Writes (the Stage* methods and Publish) run with the index's writer
// lock held, so they are serialised among themselves and with the index's
// other writers; searches (View, Rank, RowCurrent) never wait for them. A
// tenant search that overlaps a write may miss what the write changes,
// including rows a split of one of its shortlists moved to the new
// shortlist (the rule upserts follow). Published shortlists are immutable
// values, replaced whole.
package tenant
