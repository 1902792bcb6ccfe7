package clikit

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// ProcStatus returns a field of /proc/self/status in bytes (e.g. VmRSS,
// VmHWM), or -1 where it cannot be read.
func ProcStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			fs := strings.Fields(rest)
			if len(fs) == 0 {
				return -1
			}
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// ProcIO returns a field of /proc/self/io in bytes (e.g. write_bytes,
// the bytes this process caused to be written to storage, counted when
// pages are dirtied or written directly), or -1 where it cannot be read
// (a kernel without task I/O accounting).
func ProcIO(field string) int64 { return readProcIO("/proc/self/io", field) }

// ProcIOOf is ProcIO of process pid (which must be this user's).
func ProcIOOf(pid int, field string) int64 {
	return readProcIO("/proc/"+strconv.Itoa(pid)+"/io", field)
}

func readProcIO(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// DirSize returns the total size of the regular files under dir.
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// LowerGC sets the GC target to 25 % unless the user set GOGC, and returns
// a function restoring the previous target. Shoal's heap is mostly
// long-lived (the build's clustering sample, an open index's heads), so the
// default 100 % would let garbage grow to the size of all of it: the
// 300k×128 build peaks at 240 MiB instead of 324 MiB, and a search process
// stays near its live heap, at the price of more frequent, short GCs.
func LowerGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(25)
	return func() { debug.SetGCPercent(old) }
}
