//go:build invariants || race

package index

// invariants is set in builds with the invariants tag or the race
// detector: maintenance then checks checkInvariants after every unit of
// work, as Pebble checks its own behind the same tags.
const invariants = true
