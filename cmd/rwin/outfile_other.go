//go:build !unix

package main

// oNoFollow is O_NOFOLLOW where the system has it; elsewhere createOutput
// still refuses a link it finds by Lstat, and O_EXCL refuses any
// existing name.
const oNoFollow = 0
