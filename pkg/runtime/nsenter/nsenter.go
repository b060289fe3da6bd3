//go:build linux && cgo

// Package nsenter joins namespaces before the Go runtime starts. Importing it
// links a C constructor into the binary; when the environment variable
// _BERTH_NSENTER is set, the constructor runs setns(2) for each namespace fd
// it names (user first, as given), optionally unshares new namespaces, and
// optionally forks so that the child is inside a joined or new PID
// namespace. setns into mount and user namespaces needs a single-threaded
// process, which a started Go program never is.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
extern void berth_nsenter(void);
void __attribute__((constructor)) berth_nsenter_init(void) { berth_nsenter(); }
*/
import "C"

// Available reports that this build carries the constructor.
const Available = true
