//go:build !unix

package analyze

// cpuTime is the process's CPU time; -1: not measured on this system.
func cpuTime() int64 { return -1 }
