//go:build unix

package main

import "syscall"

// oNoFollow makes opening a path that is a symbolic link fail.
const oNoFollow = syscall.O_NOFOLLOW
