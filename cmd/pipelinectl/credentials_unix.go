//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// notPrivate says why a credentials file (or, for dir, its directory) is
// not private to the user running pipelinectl, or "" when it is.
func notPrivate(fi fs.FileInfo, dir bool) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Sprintf("is owned by user id %d, not by you (%d)", st.Uid, os.Getuid())
	}
	perm := fi.Mode().Perm()
	if dir {
		if perm&0o022 != 0 {
			return fmt.Sprintf("can be written by others (mode %04o)", perm)
		}
		return ""
	}
	if perm&0o077 != 0 {
		return fmt.Sprintf("can be read or written by others (mode %04o; it must be 0600)", perm)
	}
	return ""
}

// tryLock takes an exclusive flock on f without waiting. The lock belongs
// to the open file, so two opens in one process exclude each other too.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, nil
	}
	return false, err
}
