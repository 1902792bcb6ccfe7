//go:build race

package server_test

// raceEnabled: the race detector is on; long tests do less.
const raceEnabled = true
