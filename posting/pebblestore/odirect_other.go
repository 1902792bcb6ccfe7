//go:build !linux

package pebblestore

// oDirect is the open flag for direct I/O, or 0 where it has none.
const oDirect = 0
