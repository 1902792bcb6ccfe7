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
	id uint32
	b  []byte
}

func newPostingCache(capacity int64) *postingCache {
	c := &postingCache{capacity: capacity}
	c.mu.lru = list.New()
	c.mu.m = make(map[uint32]*list.Element)
	return c
}

// get returns the cached posting id, if any.
func (c *postingCache) get(id uint32) ([]byte, bool) {
	if c.capacity <= 0 {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.mu.m[id]
	if ok {
		c.mu.lru.MoveToFront(e)
	}
	c.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e.Value.(*cacheEntry).b, true
}

// put caches a copy of b as posting id, evicting least recently used
// postings to stay within capacity. Postings larger than a quarter of the
// capacity are not cached.
func (c *postingCache) put(id uint32, b []byte) {
	if int64(len(b))*4 > c.capacity {
		return
	}
	cp := append([]byte(nil), b...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.mu.m[id]; ok {
		old := e.Value.(*cacheEntry)
		c.mu.bytes += int64(len(cp) - len(old.b))
		old.b = cp
		c.mu.lru.MoveToFront(e)
	} else {
		c.mu.m[id] = c.mu.lru.PushFront(&cacheEntry{id: id, b: cp})
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

// drop removes posting id (it was replaced on disk).
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
