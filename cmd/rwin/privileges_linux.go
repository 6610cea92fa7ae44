package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// dropPrivileges gives up what rwin live needed only to open the capture.
// With name (-Z), rwin, started as root, gives the files it keeps writing
// to that user and becomes it: its groups, then its group, then its uid.
// Then every thread drops every capability it holds.
//
// Capabilities belong to threads, not to the process, and a Go program has
// several. A change of uid reaches them all (the C library, or the Go
// runtime without cgo, makes every thread call setuid), and leaving uid 0
// empties the permitted set (capabilities(7)); dropCapabilities says how
// the explicit drop reaches them.
func dropPrivileges(name string, owned ...*os.File) error {
	if name != "" {
		if err := becomeUser(name, owned); err != nil {
			return err
		}
	}
	return dropCapabilities()
}

func becomeUser(name string, owned []*os.File) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("-Z %s: only root can switch users (rwin runs as uid %d)", name, os.Geteuid())
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("-Z: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("-Z %s: uid %q, gid %q are not numbers", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return fmt.Errorf("-Z %s: that is root", name)
	}
	groups := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil && n != gid {
				groups = append(groups, n)
			}
		}
	}
	for _, f := range owned {
		if err := f.Chown(uid, gid); err != nil {
			return fmt.Errorf("-Z %s: %w", name, err)
		}
	}
	// Groups first: once the uid is not 0, they can no longer be changed.
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("-Z %s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("-Z %s: setgid: %w", name, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("-Z %s: setuid: %w", name, err)
	}
	return nil
}

// dropCapabilities empties every thread's capability sets and sets
// no_new_privs on each, through libcap's Go packages: capabilities and
// no_new_privs belong to threads, not to the process (capabilities(7),
// prctl(2)), and a Go program has several threads. Go's own
// AllThreadsSyscall refuses to run where cgo is in use, as here for
// libpcap; libcap's psx reaches every thread either way. The result is
// then read back from /proc for every thread, so a thread that kept
// anything is an error rather than a silent keep.
func dropCapabilities() error {
	if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("dropping capabilities: no_new_privs: %w", err)
	}
	// Kernels before 4.3 have no ambient set; there is nothing to clear.
	if err := cap.ResetAmbient(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("dropping capabilities: ambient set: %w", err)
	}
	if err := cap.NewSet().SetProc(); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	holding, err := threadsWithCapabilities()
	if err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	if len(holding) > 0 {
		return fmt.Errorf("dropping capabilities: threads %v still hold some", holding)
	}
	return nil
}

// threadsWithCapabilities lists this process's threads whose permitted,
// effective or ambient set is not empty, or that may still gain
// privileges by exec (no_new_privs unset), from /proc/self/task/*/status.
func threadsWithCapabilities() ([]int, error) {
	dirs, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		return nil, err
	}
	var tids []int
	for _, path := range dirs {
		tid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err != nil {
			continue
		}
		held, err := holdsCapabilities(path)
		if os.IsNotExist(err) {
			continue // the thread exited
		}
		if err != nil {
			return nil, err
		}
		if held {
			tids = append(tids, tid)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("/proc/self/task is empty: is /proc mounted?")
	}
	return tids, nil
}

func holdsCapabilities(statusPath string) (bool, error) {
	f, err := os.Open(statusPath)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "CapPrm", "CapEff", "CapAmb":
			n, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
			if err != nil {
				return false, fmt.Errorf("%s: %s: %w", statusPath, key, err)
			}
			if n != 0 {
				return true, nil
			}
		case "NoNewPrivs":
			if strings.TrimSpace(val) == "0" {
				return true, nil
			}
		}
	}
	return false, sc.Err()
}
