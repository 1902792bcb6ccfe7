package memstore_test

import (
	"testing"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/memstore"
	"github.com/shoaldb/shoal/posting/storetest"
)

// TestStore runs the conformance suite. A memstore does not persist, so
// the suite's reopen tests are skipped.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (posting.Store, func() posting.Store) {
		s := memstore.New()
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s, nil
	})
}
