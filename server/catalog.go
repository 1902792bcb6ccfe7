package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// The catalog lists the server's collections and tenant API keys. It
// lives in the shared database's own records (index.SharedDB: Get, Set,
// ScanPrefix), beside the collections' namespaces, so one Pebble instance
// holds everything and a restart reopens every collection.
//
// # Records
//
//	"col/" + name      collection record (JSON, below), version field "v"
//	"seq/collection"   last collection number used (big-endian u64)
//	"seq/tenant/" + collection number (decimal)
//	                   highest tenant number the collection ever used
//	                   (big-endian u32)
//	"key/" + key id    tenant API key record (JSON), version field "v"
//	"ten/" + collection number (decimal) + "/" + tenant name
//	                   tenant record (JSON): the index's uint32 id of
//	                   the tenant name in that collection
//	"imp/" + job id    import job record (JSON, below), version field "v"
//
// A collection's directory is "collections/<number>" under the data
// directory, or "collections/<number>-<job>" once an import job has
// built its index offline and swapped it in (imports_build.go): a
// number, not the name, so a name can be dropped and made again without
// meeting the old files. Numbers are never reused.
//
// Tenant numbers are never reused within a collection either: a tenant
// deleted and created again under its name gets a new number (above
// "seq/tenant/", which CreateTenant and DeleteTenant raise). So a
// (collection number, tenant number) pair names one tenant for the life
// of the data directory, and a tenant key is bound to such a pair (key
// record version 2): the tenant's deletion, or its collection's drop,
// revokes the key, and no namesake made later inherits it. Key records
// of version 1 (a tenant name alone, valid in every collection) are
// still read, listed and revocable, but no longer authenticate.
//
// Crash safety: CreateCollection creates the index, then writes its
// record; DropCollection drops the index (crash-safe in the shared DB),
// then deletes its record. At Open, a record whose index is gone (a drop
// cut short) is deleted, and a namespace under collections/ without a
// record (a create cut short) is dropped. Tenants: CreateTenant writes
// the record, then creates the tenant in the index; DeleteTenant deletes
// the record, then drops the tenant. At Open the catalog wins: tenants
// with a record but not in the index are created, tenants in the index
// without a record are dropped. Keys: DeleteTenant deletes
// the tenant's key records before its tenant record, DropCollection its
// collection's after the collection's; at Open a key record whose
// collection or tenant is gone is deleted. Import jobs: a job's record
// is written before it starts and again as it advances and when it
// ends; at Open a job left running resumes (imports.go). Pebble
// checksums its blocks and log records, so records carry no checksum of
// their own.

const (
	// catalogVersion is the version of collection and tenant records.
	catalogVersion = 1
	// keyVersion is the version of key records: 2 binds a key to a
	// collection's tenant; 1 (a tenant name) is read but refused.
	keyVersion = 2
	// importVersion is the version of import job records.
	importVersion   = 1
	prefixImport    = "imp/"
	prefixColl      = "col/"
	prefixKey       = "key/"
	prefixTenant    = "ten/"
	prefixSeqTenant = "seq/tenant/"
	keySeqColl      = "seq/collection"
	// collectionsDir is the sub-directory of the data directory that
	// holds the collections.
	collectionsDir = "collections"
)

// collectionRecord is a collection in the catalog.
type collectionRecord struct {
	Version    int     `json:"v"`
	Name       string  `json:"name"`
	Number     uint64  `json:"number"`
	Dir        string  `json:"dir"` // relative to the data directory, slash-separated
	Dim        int     `json:"dim"`
	Metric     string  `json:"metric"` // shoal.v1 Metric name, e.g. METRIC_L2
	Elem       string  `json:"elem"`   // shoal.v1 ElementType name
	PostingCap int     `json:"posting_cap"`
	Replicas   int     `json:"replicas"`
	NProbe     int     `json:"nprobe,omitempty"`
	Epsilon    float64 `json:"epsilon,omitempty"`
	Beam       int     `json:"beam,omitempty"`
	CreatedMs  int64   `json:"created_unix_ms"`
	// IndexedFields are the indexed payload fields (the index keeps them
	// too, and is the truth for its labels; this copy describes).
	IndexedFields []string `json:"indexed_payload_fields,omitempty"`
	// Quant is what the postings hold, as the API names it with its bits
	// ("rabitq4"), "" for rows: the index manifest's (the truth, which
	// openCollections copies here; records written before quantized
	// postings have none).
	Quant string `json:"quant,omitempty"`
}

// keyRecord is a tenant API key in the catalog: only the SHA-256 of its
// secret is stored. Version 2 binds it to tenant TenantID of collection
// number CollNumber (Collection and Tenant are their names, kept for
// messages and listings); a version 1 record has only Tenant.
type keyRecord struct {
	Version    int    `json:"v"`
	ID         string `json:"id"`
	Collection string `json:"collection,omitempty"`
	CollNumber uint64 `json:"collection_number,omitempty"`
	Tenant     string `json:"tenant"`
	TenantID   uint32 `json:"tenant_id,omitempty"`
	Hash       string `json:"sha256"` // hex
	CreatedMs  int64  `json:"created_unix_ms"`
}

// legacy reports whether r predates keys bound to a collection.
func (r keyRecord) legacy() bool { return r.Version < keyVersion }

// tenantRecord maps a tenant name to the index's tenant id in one
// collection.
type tenantRecord struct {
	Version int    `json:"v"`
	Name    string `json:"name"`
	ID      uint32 `json:"id"`
}

// catalog reads and writes the records. Its methods are safe for
// concurrent use; callers serialise the changes of one collection.
type catalog struct {
	db *index.SharedDB
	mu struct {
		sync.Mutex
		// keys are the tenant keys by hash of their secret.
		keys map[[sha256.Size]byte]keyRecord
	}
}

func openCatalog(db *index.SharedDB) (*catalog, error) {
	c := &catalog{db: db}
	c.mu.keys = make(map[[sha256.Size]byte]keyRecord)
	err := db.ScanPrefix([]byte(prefixKey), func(k, v []byte) error {
		var r keyRecord
		if err := unmarshalVersion(k, v, &r, &r.Version, 1, keyVersion); err != nil {
			return err
		}
		h, err := hex.DecodeString(r.Hash)
		if err != nil || len(h) != sha256.Size {
			return fmt.Errorf("server: catalog key %s: bad hash", r.ID)
		}
		if !r.legacy() && (r.Collection == "" || r.CollNumber == 0 || r.Tenant == "" || r.TenantID == 0) {
			return fmt.Errorf("server: catalog key %s: version %d record without its collection and tenant", r.ID, r.Version)
		}
		c.mu.keys[[sha256.Size]byte(h)] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// unmarshalRecord decodes a collection or tenant record.
func unmarshalRecord(k, v []byte, r any, version *int) error {
	return unmarshalVersion(k, v, r, version, catalogVersion, catalogVersion)
}

// unmarshalVersion decodes a JSON record whose version field (set by the
// decoding, through version) must lie in [oldest, newest].
func unmarshalVersion(k, v []byte, r any, version *int, oldest, newest int) error {
	if err := json.Unmarshal(v, r); err != nil {
		return fmt.Errorf("server: catalog record %q: %w", k, err)
	}
	switch {
	case *version > newest:
		return fmt.Errorf("server: catalog record %q has version %d, written by a newer server; this server reads versions %d to %d", k, *version, oldest, newest)
	case *version < oldest:
		return fmt.Errorf("server: catalog record %q has version %d, this server reads versions %d to %d", k, *version, oldest, newest)
	}
	return nil
}

// collections returns every collection record, by name.
func (c *catalog) collections() ([]collectionRecord, error) {
	var out []collectionRecord
	err := c.db.ScanPrefix([]byte(prefixColl), func(k, v []byte) error {
		var r collectionRecord
		if err := unmarshalRecord(k, v, &r, &r.Version); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// nextNumber takes a new collection number (durably, so that it is never
// handed out again).
func (c *catalog) nextNumber() (uint64, error) {
	var n uint64
	b, err := c.db.Get([]byte(keySeqColl))
	switch {
	case err == nil && len(b) == 8:
		n = binary.BigEndian.Uint64(b)
	case err == nil:
		return 0, fmt.Errorf("server: catalog sequence of %d bytes", len(b))
	case !isNotFound(err):
		return 0, err
	}
	n++
	if err := c.db.Set([]byte(keySeqColl), binary.BigEndian.AppendUint64(nil, n)); err != nil {
		return 0, err
	}
	return n, nil
}

func (c *catalog) putCollection(r collectionRecord) error {
	r.Version = catalogVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.db.Set([]byte(prefixColl+r.Name), b)
}

func (c *catalog) deleteCollection(name string) error {
	return c.db.Delete([]byte(prefixColl + name))
}

// putKey stores a tenant key, bound as r says.
func (c *catalog) putKey(r keyRecord, hash [sha256.Size]byte) error {
	r.Version = keyVersion
	r.Hash = hex.EncodeToString(hash[:])
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := c.db.Set([]byte(prefixKey+r.ID), b); err != nil {
		return err
	}
	c.mu.Lock()
	c.mu.keys[hash] = r
	c.mu.Unlock()
	return nil
}

// keyByHash returns the tenant key whose secret hashes to h.
func (c *catalog) keyByHash(h [sha256.Size]byte) (keyRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.mu.keys[h]
	return r, ok
}

// deleteKey deletes the tenant key of id; false if there is none.
func (c *catalog) deleteKey(id string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, r := range c.mu.keys {
		if r.ID == id {
			if err := c.db.Delete([]byte(prefixKey + id)); err != nil {
				return false, err
			}
			delete(c.mu.keys, h)
			return true, nil
		}
	}
	return false, nil
}

// deleteKeys deletes the tenant keys for which match is true and
// returns them (those deleted before an error, with it).
func (c *catalog) deleteKeys(match func(keyRecord) bool) ([]keyRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []keyRecord
	for h, r := range c.mu.keys {
		if !match(r) {
			continue
		}
		if err := c.db.Delete([]byte(prefixKey + r.ID)); err != nil {
			return out, err
		}
		delete(c.mu.keys, h)
		out = append(out, r)
	}
	return out, nil
}

// listKeys returns the tenant keys, by id.
func (c *catalog) listKeys() []keyRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]keyRecord, 0, len(c.mu.keys))
	for _, r := range c.mu.keys {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b keyRecord) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func tenantKey(coll uint64, name string) []byte {
	return []byte(prefixTenant + strconv.FormatUint(coll, 10) + "/" + name)
}

// tenants returns the tenant records of collection number coll.
func (c *catalog) tenants(coll uint64) ([]tenantRecord, error) {
	var out []tenantRecord
	err := c.db.ScanPrefix(tenantKey(coll, ""), func(k, v []byte) error {
		var r tenantRecord
		if err := unmarshalRecord(k, v, &r, &r.Version); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (c *catalog) putTenant(coll uint64, r tenantRecord) error {
	r.Version = catalogVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.db.Set(tenantKey(coll, r.Name), b)
}

func (c *catalog) deleteTenant(coll uint64, name string) error {
	return c.db.Delete(tenantKey(coll, name))
}

// deleteTenants deletes every tenant record of collection number coll,
// and its tenant number sequence.
func (c *catalog) deleteTenants(coll uint64) error {
	recs, err := c.tenants(coll)
	for _, r := range recs {
		if err == nil {
			err = c.deleteTenant(coll, r.Name)
		}
	}
	if err == nil {
		err = c.db.Delete(tenantSeqKey(coll))
	}
	return err
}

func tenantSeqKey(coll uint64) []byte {
	return []byte(prefixSeqTenant + strconv.FormatUint(coll, 10))
}

// lastTenantID returns the highest tenant number collection number coll
// ever used, as far as its sequence record knows (0: none, or a catalog
// older than the record).
func (c *catalog) lastTenantID(coll uint64) (uint32, error) {
	b, err := c.db.Get(tenantSeqKey(coll))
	switch {
	case isNotFound(err):
		return 0, nil
	case err != nil:
		return 0, err
	case len(b) != 4:
		return 0, fmt.Errorf("server: catalog tenant sequence of collection %d has %d bytes, want 4", coll, len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

// useTenantID raises the tenant sequence of collection number coll to id
// (durably), so that id is never handed out again.
func (c *catalog) useTenantID(coll uint64, id uint32) error {
	last, err := c.lastTenantID(coll)
	if err != nil || last >= id {
		return err
	}
	return c.db.Set(tenantSeqKey(coll), binary.BigEndian.AppendUint32(nil, id))
}

// isCollectionDir reports whether a namespace of the shared DB is a
// collection's directory.
func isCollectionDir(ns string) bool {
	return strings.HasPrefix(ns, collectionsDir+"/")
}

func isNotFound(err error) bool { return errors.Is(err, index.ErrRecordNotFound) }

// importRecord is an import job in the catalog (imports.go). It is
// written when the job starts, as it advances (an upsert job's Done at
// most once a second, a build job's BuildDir before each build) and when
// it ends.
type importRecord struct {
	Version    int    `json:"v"`
	ID         string `json:"id"`
	Collection string `json:"collection"`
	CollNumber uint64 `json:"collection_number"`
	// Path is the file's resolved path; Spool marks a file of the
	// server's own (AdminService.Import), removed when the job ends.
	Path     string `json:"path"`
	Spool    bool   `json:"spool,omitempty"`
	FirstID  uint64 `json:"first_id"`
	Tenant   string `json:"tenant,omitempty"`
	TenantID uint32 `json:"tenant_id,omitempty"`
	// Method is "upsert" or "build"; BuildDir is where a build job builds
	// (a namespace directory relative to the data directory): the
	// collection's record names it once the build is swapped in.
	Method   string `json:"method"`
	BuildDir string `json:"build_dir,omitempty"`
	// State is a shoal.v1 ImportJob.State name; Done the rows stored (for
	// a running upsert job, at least that many).
	State      string `json:"state"`
	Done       uint64 `json:"done"`
	Total      uint64 `json:"total"`
	Error      string `json:"error,omitempty"`
	Resumed    uint32 `json:"resumed,omitempty"`
	StartedMs  int64  `json:"started_unix_ms"`
	FinishedMs int64  `json:"finished_unix_ms,omitempty"`
}

// Import job methods, as records name them.
const (
	methodUpsert = "upsert"
	methodBuild  = "build"
)

// check reports a record no server writes: fields missing or out of
// range.
func (r importRecord) check(key []byte) error {
	_, known := shoalv1.ImportJob_State_value[r.State]
	switch {
	case prefixImport+r.ID != string(key) || r.ID == "":
		return fmt.Errorf("server: catalog record %q: import job id %q", key, r.ID)
	case r.Collection == "" || r.CollNumber == 0 || r.Path == "":
		return fmt.Errorf("server: catalog record %q: import job without its collection or file", key)
	case r.Method != methodUpsert && r.Method != methodBuild:
		return fmt.Errorf("server: catalog record %q: import method %q", key, r.Method)
	case !known || r.State == shoalv1.ImportJob_STATE_UNSPECIFIED.String():
		return fmt.Errorf("server: catalog record %q: import state %q", key, r.State)
	case r.Done > r.Total:
		return fmt.Errorf("server: catalog record %q: %d of %d rows done", key, r.Done, r.Total)
	case r.Method == methodBuild && !isCollectionDir(r.BuildDir):
		return fmt.Errorf("server: catalog record %q: build directory %q", key, r.BuildDir)
	}
	return nil
}

// imports returns every import job record, in key order.
func (c *catalog) imports() ([]importRecord, error) {
	var out []importRecord
	err := c.db.ScanPrefix([]byte(prefixImport), func(k, v []byte) error {
		var r importRecord
		if err := unmarshalVersion(k, v, &r, &r.Version, importVersion, importVersion); err != nil {
			return err
		}
		if err := r.check(k); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (c *catalog) putImport(r importRecord) error {
	r.Version = importVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.db.Set([]byte(prefixImport+r.ID), b)
}

func (c *catalog) deleteImport(id string) error {
	return c.db.Delete([]byte(prefixImport + id))
}
