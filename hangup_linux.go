// hangup_linux.go tells a SIGHUP from a closed terminal apart from one asking for a reload.

package main

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// terminalHungUp reports whether w is a terminal that has hung up (its window or SSH session
// closed): the kernel then answers every ioctl on it with EIO. Such a SIGHUP means "stop",
// as it always did for a fluxlit run in a terminal; any other SIGHUP asks for a reload.
func terminalHungUp(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var termios syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&termios)))
	return errno == syscall.EIO
}
