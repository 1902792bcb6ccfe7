//go:build race

package directio

const raceEnabled = true
