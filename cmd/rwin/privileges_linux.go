package main

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

static volatile int rwin_capdrop_err;
static volatile int rwin_capdrop_acks;

// rwin_capdrop_self empties the calling thread's capability sets and
// forbids it to gain privileges by exec (capabilities(7): each set, and
// no_new_privs, belongs to a thread, and new threads inherit them).
static void rwin_capdrop_self(void) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 ||
	    syscall(SYS_capset, &h, d) != 0) {
		rwin_capdrop_err = errno;
	}
}

static void rwin_capdrop_handler(int sig) {
	int e = errno;
	rwin_capdrop_self();
	__atomic_add_fetch(&rwin_capdrop_acks, 1, __ATOMIC_SEQ_CST);
	errno = e;
}

// rwin_capdrop_signal is the signal that makes another thread drop its
// capabilities: a real-time signal that neither glibc (SIGRTMIN-2,
// SIGRTMIN-1) nor the Go runtime uses, which the runtime ignores if it
// arrives after the handler is put back.
static int rwin_capdrop_signal(void) { return SIGRTMIN + 6; }

// rwin_capdrop_install puts the handler in place (SA_ONSTACK: Go threads
// run signal handlers on their alternate stacks).
static int rwin_capdrop_install(struct sigaction *old) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = rwin_capdrop_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return sigaction(rwin_capdrop_signal(), &sa, old) == 0 ? 0 : errno;
}

static int rwin_capdrop_restore(struct sigaction *old) {
	return sigaction(rwin_capdrop_signal(), old, NULL) == 0 ? 0 : errno;
}

static int rwin_capdrop_kill(int tid) {
	return syscall(SYS_tgkill, getpid(), tid, rwin_capdrop_signal()) == 0 ? 0 : errno;
}

static int rwin_gettid(void) { return syscall(SYS_gettid); }
static int rwin_capdrop_acked(void) { return __atomic_load_n(&rwin_capdrop_acks, __ATOMIC_SEQ_CST); }
static int rwin_capdrop_error(void) { return rwin_capdrop_err; }
*/
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dropPrivileges gives up what rwin live needed only to open the capture.
// With name (-Z), rwin, started as root, gives the files it keeps writing
// to that user and becomes it: its groups, then its group, then its uid.
// Then every thread drops every capability it holds.
//
// Capabilities belong to threads, not to the process, and a Go program has
// several. A change of uid reaches them all (the C library, or the Go
// runtime without cgo, makes every thread call setuid), and leaving uid 0
// empties the permitted set (capabilities(7)). An explicit drop has no
// such help: Go's AllThreadsSyscall refuses to run where cgo is in use, as
// here for libpcap, so each thread is signalled to drop its own, and the
// result is read back from /proc for every thread.
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

// dropCapabilities empties every thread's capability sets, signalling the
// threads that hold any until none does; a thread started meanwhile by
// one that had not dropped yet is caught on the next round. A thread that
// blocks the signal cannot be reached — os/signal starts one on the first
// signal.Notify — so the drop comes before it, and the check of every
// thread turns such a thread into an error rather than a silent keep.
func dropCapabilities() error {
	var old C.struct_sigaction
	if e := C.rwin_capdrop_install(&old); e != 0 {
		return fmt.Errorf("dropping capabilities: sigaction: %w", syscall.Errno(e))
	}
	defer C.rwin_capdrop_restore(&old)
	// The calling goroutine stays on one thread while that thread drops
	// its own and signals the others.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self := int(C.rwin_gettid())
	for range 5 {
		holding, err := threadsWithCapabilities()
		if err != nil {
			return fmt.Errorf("dropping capabilities: %w", err)
		}
		if len(holding) == 0 {
			return nil
		}
		want := int(C.rwin_capdrop_acked())
		for _, tid := range holding {
			if tid == self {
				C.rwin_capdrop_self()
				continue
			}
			if C.rwin_capdrop_kill(C.int(tid)) == 0 {
				want++ // a thread that just exited is not waited for
			}
		}
		for deadline := time.Now().Add(time.Second); int(C.rwin_capdrop_acked()) < want && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if e := C.rwin_capdrop_error(); e != 0 {
			return fmt.Errorf("dropping capabilities: %w", syscall.Errno(e))
		}
	}
	holding, _ := threadsWithCapabilities()
	return fmt.Errorf("dropping capabilities: threads %v still hold some", holding)
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
