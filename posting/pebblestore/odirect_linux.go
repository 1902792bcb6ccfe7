//go:build linux

package pebblestore

import "golang.org/x/sys/unix"

// oDirect is the open flag for direct I/O, or 0 where it has none.
const oDirect = unix.O_DIRECT
