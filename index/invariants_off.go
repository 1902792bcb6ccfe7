//go:build !invariants && !race

package index

// invariants is set in builds with the invariants tag or the race
// detector (invariants_on.go).
const invariants = false
