package pebblestore

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// postingCache is the explicit, bounded cache of posting bytes: an LRU
// keyed by posting id, bounded by the bytes it holds. It is the only cache
// on the query path (direct I/O bypasses the OS page cache), so its
// capacity is the memory budget for posting data. Safe for concurrent use.
//
// Each entry is tagged with the location it was read from, and a lookup
// hits only if the posting still lives there: a reader that looked up the
// old location of a posting being rewritten may cache the old bytes after
// the commit dropped the entry, and the tag keeps them from being served.
type postingCache struct {
	capacity int64
	mu       struct {
		sync.Mutex
		// bytes, lru and m are guarded by mu. Values are never modified
		// after insertion, so callers may read them after unlocking.
		bytes int64
		lru   *list.List // of *cacheEntry, most recent first
		m     map[uint32]*list.Element
	}
	hits, misses atomic.Int64
}

type cacheEntry struct {
	id  uint32
	loc location
	b   []byte
}

func newPostingCache(capacity int64) *postingCache {
	c := &postingCache{capacity: capacity}
	c.mu.lru = list.New()
	c.mu.m = make(map[uint32]*list.Element)
	return c
}

// get returns the cached posting id read from loc, if any.
func (c *postingCache) get(id uint32, loc location) ([]byte, bool) {
	if c.capacity <= 0 {
		return nil, false
	}
	c.mu.Lock()
	var b []byte
	e, ok := c.mu.m[id]
	if ok {
		ce := e.Value.(*cacheEntry)
		if ok = ce.loc == loc; ok {
			c.mu.lru.MoveToFront(e)
			b = ce.b
		}
	}
	c.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return b, true
}

// put caches a copy of b as posting id read from loc, evicting least
// recently used postings to stay within capacity. Postings larger than a
// quarter of the capacity are not cached.
func (c *postingCache) put(id uint32, loc location, b []byte) {
	if int64(len(b))*4 > c.capacity {
		return
	}
	cp := append([]byte(nil), b...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.mu.m[id]; ok {
		old := e.Value.(*cacheEntry)
		c.mu.bytes += int64(len(cp) - len(old.b))
		old.b, old.loc = cp, loc
		c.mu.lru.MoveToFront(e)
	} else {
		c.mu.m[id] = c.mu.lru.PushFront(&cacheEntry{id: id, loc: loc, b: cp})
		c.mu.bytes += int64(len(cp))
	}
	for c.mu.bytes > c.capacity {
		e := c.mu.lru.Back()
		ce := e.Value.(*cacheEntry)
		c.mu.lru.Remove(e)
		delete(c.mu.m, ce.id)
		c.mu.bytes -= int64(len(ce.b))
	}
}

// drop removes posting id (it was replaced or deleted).
func (c *postingCache) drop(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.mu.m[id]; ok {
		c.mu.bytes -= int64(len(e.Value.(*cacheEntry).b))
		c.mu.lru.Remove(e)
		delete(c.mu.m, id)
	}
}

func (c *postingCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.bytes
}
