//go:build unix

package analyze

import "syscall"

// cpuTime is the process's user and system time so far, in ns; -1 when
// the system does not say.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
