// harness_linux_test.go: what only Linux gives the harness (see harnessRun).

package main

import "syscall"

// harnessDieWithTest asks the kernel to SIGKILL the child when the thread that forked it ends.
func harnessDieWithTest(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
