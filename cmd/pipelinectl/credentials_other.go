//go:build !unix

package main

import (
	"io/fs"
	"os"
)

// notPrivate accepts every file: outside Unix the permission bits do not
// say who can read a file (Windows keeps that in ACLs, and a user's
// configuration directory is private to them by default).
func notPrivate(fs.FileInfo, bool) string { return "" }

// tryLock always succeeds: pipelinectl is built for Linux and macOS, where
// credentials_unix.go locks with flock. Elsewhere two runs refreshing at the
// same moment may race, and the slower one is told to sign in again.
func tryLock(*os.File) (bool, error) { return true, nil }
