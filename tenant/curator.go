package tenant

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/errs"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/internal/statemap"
	"github.com/shoaldb/shoal/internal/vec"
)

// Store is what a Curator reads from the index's posting store: its
// records and the shortlist postings. Implementations are safe for
// concurrent use (package posting's Store is one).
type Store interface {
	Read(id uint32, fn func(encoded []byte) error) error
	ReadBatch(ids []uint32, fn func(i int, encoded []byte) error) error
	GetSorted(keys [][]byte, fn func(i int, value []byte) error) error
	ScanPrefix(prefix []byte, fn func(key, value []byte) error) error
}

// Batch is the part of a posting-store batch that a Curator stages its
// changes into; the index commits it.
type Batch interface {
	Set(key, value []byte)
	Delete(key []byte)
	PutPosting(id uint32, encoded []byte) error
	DeletePosting(id uint32)
}

// Host is what a Curator needs of the index it serves.
type Host interface {
	// Live reports whether id holds a vector now.
	Live(id uint64) bool
	// StoredRows returns the stored vectors of ids (distinct and live), in
	// the element type, row after row.
	StoredRows(ids []uint64) ([]byte, error)
	// Tree returns the shared clustering tree. The caller holds the
	// writer lock, under which it does not change.
	Tree() *cluster.Tree
	// AllocPosting returns a posting id no head and no shortlist uses.
	// The caller holds the writer lock.
	AllocPosting() uint32
	// Write takes the writer lock, runs stage with a new batch, commits
	// the batch (synced) if stage succeeds, and then calls the publish
	// function stage returned, still under the lock.
	Write(stage func(b Batch) (publish func(), err error)) error
}

// Config is the shape of the index a Curator serves.
type Config struct {
	Dim    int
	Elem   vec.ElemType
	Metric vec.Metric
	Seed   uint64
	// MaxSLSize is Curator's max_sl_size: a shortlist that grows past it
	// is split in two.
	MaxSLSize int
	// LoadBatch is how many tenants' ids Load gathers before it adds them
	// to their lists. Default 4096.
	LoadBatch int
}

// Curator is the tenant state of one index. Its concurrency contract is
// in the package documentation.
type Curator struct {
	cfg      Config
	rowBytes int
	store    Store
	host     Host

	lists *Lists
	vv    *statemap.Map // value version per id with an access record

	mu    sync.RWMutex
	parts map[ID]*shortlists // replaced whole, never changed
	// next is the lowest posting id above every shortlist at Load.
	next uint32
	// sweep collects stale shortlist rows (sweep.go).
	sweep slSweep
}

// Load rebuilds the tenant state of an index from its records.
func Load(store Store, host Host, cfg Config) (*Curator, error) {
	if cfg.LoadBatch <= 0 {
		cfg.LoadBatch = 4096
	}
	c := &Curator{
		cfg: cfg, rowBytes: cfg.Dim * cfg.Elem.Size(), store: store, host: host,
		lists: NewLists(), vv: statemap.New(), parts: make(map[ID]*shortlists),
	}
	err := store.ScanPrefix(keys.Prefix(keys.Tenant), func(k, _ []byte) error {
		if len(k) != 5 {
			return fmt.Errorf("%w: tenant record %x", errs.Corrupt, k)
		}
		return c.lists.Create(ID(binary.BigEndian.Uint32(k[1:])))
	})
	if err != nil {
		return nil, err
	}
	byTenant := make(map[ID][]uint64)
	flush := func() error {
		for t, ids := range byTenant {
			if _, err := c.lists.Add(t, ids...); err != nil {
				return fmt.Errorf("%w: access record names tenant %d: %v", errs.Corrupt, t, err)
			}
			delete(byTenant, t)
		}
		return nil
	}
	err = store.ScanPrefix(keys.Prefix(keys.Access), func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: access record key %x", errs.Corrupt, k)
		}
		id := binary.BigEndian.Uint64(k[1:])
		a, err := decodeAccess(v)
		if err != nil {
			return fmt.Errorf("id %d: %w", id, err)
		}
		c.vv.Set(id, a.vv)
		for _, t := range a.readers() {
			byTenant[t] = append(byTenant[t], id)
		}
		if len(byTenant) > c.cfg.LoadBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	if err := c.loadShortlists(); err != nil {
		return nil, err
	}
	return c, nil
}

// loadShortlists reads every tenant's shortlist records.
func (c *Curator) loadShortlists() error {
	dim := c.cfg.Dim
	parts := make(map[ID]*shortlists)
	err := c.store.ScanPrefix(keys.Prefix(keys.Shortlist), func(k, v []byte) error {
		if len(k) != 9 || len(v) != 4+4*dim {
			return fmt.Errorf("%w: shortlist record %x of %d bytes", errs.Corrupt, k, len(v))
		}
		t := ID(binary.BigEndian.Uint32(k[1:]))
		p := binary.BigEndian.Uint32(k[5:])
		s := parts[t]
		if s == nil {
			s = &shortlists{}
			parts[t] = s
		}
		s.ids = append(s.ids, p)
		s.rows = append(s.rows, int32(binary.LittleEndian.Uint32(v)))
		for i := 0; i < dim; i++ {
			s.cents = append(s.cents, vec.Float16bits(math.Float32frombits(binary.LittleEndian.Uint32(v[4+4*i:]))))
		}
		c.next = max(c.next, p+1)
		return nil
	})
	if err != nil {
		return err
	}
	for t, s := range parts {
		if !c.lists.Exists(t) {
			return fmt.Errorf("%w: shortlists of unknown tenant %d", errs.Corrupt, t)
		}
		c.setPart(t, s.trim())
	}
	return nil
}

// NextPosting returns the lowest posting id above every shortlist loaded:
// the index's posting id allocator starts there or above.
func (c *Curator) NextPosting() uint32 { return c.next }

// part returns tenant t's shortlists (nil for none).
func (c *Curator) part(t ID) *shortlists {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.parts[t]
}

// setPart publishes tenant t's shortlists (nil: none).
func (c *Curator) setPart(t ID, s *shortlists) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == nil || len(s.ids) == 0 {
		delete(c.parts, t)
		return
	}
	c.parts[t] = s
}

// Exists reports whether tenant t exists.
func (c *Curator) Exists(t ID) bool { return t != 0 && c.lists.Exists(t) }

// Len returns the number of tenants.
func (c *Curator) Len() int { return c.lists.Len() }

// Tenants returns the tenants, in increasing order.
func (c *Curator) Tenants() []ID { return c.lists.Tenants() }

// Count returns the number of vectors tenant t may read.
func (c *Curator) Count(t ID) (uint64, error) {
	if !c.Exists(t) {
		return 0, fmt.Errorf("%w: %d", errs.UnknownTenant, t)
	}
	return c.lists.Count(t)
}

// Can reports whether tenant t's list holds id.
func (c *Curator) Can(t ID, id uint64) bool { return c.lists.Can(t, id) }

// View returns the access list snapshot of tenant t: immutable, valid
// however the list changes later.
func (c *Curator) View(t ID) (*roaring64.Bitmap, error) {
	if !c.Exists(t) {
		return nil, fmt.Errorf("%w: %d", errs.UnknownTenant, t)
	}
	return c.lists.View(t)
}

// RowCurrent reports whether a shortlist row (id at value version vv) of
// the tenant whose access list is view is current.
func (c *Curator) RowCurrent(view *roaring64.Bitmap, id uint64, vv uint8) bool {
	return c.host.Live(id) && c.vv.Get(id) == vv && view.Contains(id)
}

// Owner returns the tenant that owns id (0 for none).
func (c *Curator) Owner(id uint64) (ID, error) {
	recs, _, err := c.accessMany([]uint64{id})
	if err != nil {
		return 0, err
	}
	return recs[0].owner, nil
}

// Stats describe the tenant state and the memory it holds.
type Stats struct {
	Tenants int
	// Shortlists and ShortlistRows count every tenant's shortlists and
	// the rows stored in them (stale ones included).
	Shortlists    int
	ShortlistRows int64
	// ShortlistBytes is the memory of the shortlists' centroids and ids;
	// ListBytes of the access lists; VersionBytes of the value versions.
	ShortlistBytes int64
	ListBytes      int64
	VersionBytes   int64
}

// Stats returns the tenant state's counts and memory.
func (c *Curator) Stats() Stats {
	st := Stats{Tenants: c.lists.Len(), ListBytes: c.lists.Bytes(), VersionBytes: c.vv.Bytes()}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.parts {
		st.Shortlists += len(s.ids)
		for _, r := range s.rows {
			st.ShortlistRows += int64(r)
		}
		st.ShortlistBytes += int64(cap(s.ids))*4 + int64(cap(s.rows))*4 + int64(cap(s.cents))*2 + 80
	}
	return st
}
