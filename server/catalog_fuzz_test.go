package server

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/index"
)

// FuzzCatalogRecords: catalog records of any bytes, under any of the
// catalog's key kinds, make opening the catalog and reading it fail with
// an error or succeed, never panic.
func FuzzCatalogRecords(f *testing.F) {
	f.Add(uint8(0), "docs", []byte(`{"version":1,"name":"docs","number":1,"dir":"collections/1","dim":8,"metric":"l2","elem":"float32"}`))
	f.Add(uint8(1), "k1", []byte(`{"version":2,"id":"k1","hash":"00","collection":"docs","collection_number":1,"tenant":"t","tenant_id":1}`))
	f.Add(uint8(1), "k2", []byte(`{"version":1,"id":"k2","hash":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","tenant":"t"}`))
	f.Add(uint8(2), "1/t", []byte(`{"version":1,"name":"t","id":3}`))
	f.Add(uint8(3), "1", []byte{0, 0, 0, 7})
	f.Add(uint8(4), "", []byte{0, 0, 0, 0, 0, 0, 0, 9})
	f.Add(uint8(0), "x", []byte(`{"version":99}`))
	f.Add(uint8(2), "notanumber/t", []byte(`{}`))
	f.Add(uint8(5), "imp-1", []byte(`{"v":1,"id":"imp-1","collection":"docs","collection_number":1,"path":"/x.fvecs","method":"build","build_dir":"collections/1-1-0","state":"STATE_RUNNING","done":0,"total":10,"started_unix_ms":1}`))
	f.Add(uint8(5), "imp-2", []byte(`{"v":1,"id":"imp-2","collection":"docs","collection_number":1,"path":"/x.fvecs","method":"upsert","state":"STATE_DONE","done":11,"total":10}`))
	f.Add(uint8(5), "imp-3", []byte(`{"v":2}`))
	db, err := index.OpenSharedDB(filepath.Join(f.TempDir(), "data"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, kind uint8, name string, value []byte) {
		var key string
		switch kind % 6 {
		case 0:
			key = prefixColl + name
		case 1:
			key = prefixKey + name
		case 2:
			key = prefixTenant + name
		case 3:
			key = string(tenantSeqKey(1))
		case 5:
			key = prefixImport + name
		default:
			key = keySeqColl
		}
		if err := db.Set([]byte(key), value); err != nil {
			t.Fatal(err)
		}
		defer db.Delete([]byte(key))
		c, err := openCatalog(db)
		if err != nil {
			return
		}
		recs, err := c.collections()
		if err == nil {
			for _, r := range recs {
				c.tenants(r.Number)
				c.lastTenantID(r.Number)
			}
		}
		c.tenants(1)
		c.lastTenantID(1)
		c.nextNumber()
		c.listKeys()
		if recs, err := c.imports(); err == nil {
			for _, r := range recs {
				jobFromRecord(r).proto()
			}
		}
		// nextNumber wrote the collection sequence: put it back.
		db.Set([]byte(keySeqColl), binary.BigEndian.AppendUint64(nil, 0))
	})
}

// FuzzReadManifest: a snapshot manifest of any bytes is read as a
// snapshot or refused with a status error, never a panic, and names no
// file outside the snapshot directory.
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"format":"shoal-snapshot","version":2,"vectors":0,"files":[]}`))
	f.Add([]byte(`{"format":"shoal-snapshot","version":2,"vectors":1,"files":[{"name":"vectors-0000","bytes":3,"sha256":"00","vectors":1}]}`))
	f.Add([]byte(`{"format":"shoal-snapshot","version":1,"files":[{"name":"../escape","bytes":1}]}`))
	f.Add([]byte(`{"format":"shoal-snapshot","version":1,"files":[{"name":"/etc/passwd","bytes":1}]}`))
	f.Add([]byte(`{"format":"shoal.snapshot","version":3,"config":{"dim":4,"metric":"METRIC_L2","elem":"ELEMENT_TYPE_FLOAT32"},"files":[{"name":"index/MANIFEST-000001","bytes":3,"sha256":"00"}]}`))
	f.Add([]byte(`{"format":"shoal.snapshot","version":3,"config":{"dim":4,"metric":"METRIC_L2","elem":"ELEMENT_TYPE_FLOAT32"},"files":[{"name":"index/../x","bytes":3}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, snapshotManifest), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "vectors-0000"), []byte("abc"), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		m, err := readManifest(d, "fuzz")
		if err != nil {
			return
		}
		for _, fl := range m.Files {
			base, sub := strings.CutPrefix(fl.Name, "index/")
			if !filepath.IsLocal(fl.Name) || filepath.Base(base) != base || (sub && m.Version < 3) || (!sub && m.Version >= 3) {
				t.Fatalf("manifest accepted with file %q outside the snapshot", fl.Name)
			}
		}
	})
}
