package memstore_test

import (
	"testing"

	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/memstore"
	"github.com/shoaldb/shoal/posting/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (posting.Store, func() posting.Store) {
		return memstore.New(), nil
	})
}
