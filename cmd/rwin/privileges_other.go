//go:build !linux

package main

import (
	"fmt"
	"os"
)

// dropPrivileges is rwin live's drop of what it needed only to open the
// capture. Capability sets and the thread-wide switch of users that -Z
// relies on are Linux's (privileges_linux.go); elsewhere there is nothing
// to drop, and -Z is refused rather than ignored, so that nobody believes
// rwin runs as a user it does not.
func dropPrivileges(name string, _ ...*os.File) error {
	if name != "" {
		return fmt.Errorf("-Z %s: switching users after opening the capture is supported on Linux only", name)
	}
	return nil
}
