package pebblestore

// OverrideKeys returns the number of directory override keys in Pebble.
func OverrideKeys(s *Store) (int, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return 0, err
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if it.Key()[0] == prefixOverride {
			n++
		}
	}
	return n, it.Close()
}
