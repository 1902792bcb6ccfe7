package clikit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// lockPath finds the directory in a "lock DIR: resource temporarily
// unavailable" error of Pebble (pebblestore).
var lockPath = regexp.MustCompile(`lock (\S+): resource temporarily unavailable`)

// ExplainLock turns the error of opening an index or data directory that
// another process holds open (its LOCK file is locked) into one that says
// so, names that process where /proc/locks tells it, and says how to go
// on. Other errors come back as they are.
func ExplainLock(err error) error {
	if err == nil {
		return nil
	}
	m := lockPath.FindStringSubmatch(err.Error())
	if m == nil && !errors.Is(err, syscall.EAGAIN) {
		return err
	}
	what := "another process"
	if m != nil {
		if pid, cmd := lockHolder(filepath.Join(m[1], "LOCK")); pid > 0 {
			what = fmt.Sprintf("process %d (%s)", pid, cmd)
		}
	}
	dir := "the directory"
	if m != nil {
		dir = m[1]
	}
	return fmt.Errorf("%w\n%s has %s open (a running `shoal serve`, or another shoal command): stop it first, "+
		"or, for a server's data, go through it with `shoal client`", err, what, dir)
}

// lockHolder returns the pid and command line of the process that holds
// a lock on the file path, from /proc/locks; 0 if it cannot tell.
func lockHolder(path string) (int, string) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, ""
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: POSIX  ADVISORY  WRITE 10752 fe:00:10018875 0 EOF
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 {
			continue
		}
		dev := strings.Split(fs[5], ":")
		if len(dev) != 3 {
			continue
		}
		ino, err := strconv.ParseUint(dev[2], 10, 64)
		if err != nil || ino != st.Ino {
			continue
		}
		pid, err := strconv.Atoi(fs[4])
		if err != nil || pid <= 0 {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return 0, ""
}
