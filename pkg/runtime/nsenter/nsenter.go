//go:build linux && cgo

// Package nsenter joins namespaces before the Go runtime starts. Importing it
// links a C constructor into the binary; when the environment variable
// _BERTH_NSENTER is set, the constructor runs setns(2) for each namespace fd
// it names (user first, as given), optionally unshares new namespaces, and
// optionally forks so that the child is inside a joined or new PID
// namespace. setns into mount and user namespaces needs a single-threaded
// process, which a started Go program never is. With _BERTH_REAP_DIRS set
// the constructor is instead a container's reaper (reap.c), and exits
// without starting the Go runtime.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
#include <malloc.h>
extern void berth_nsenter(void);
extern void berth_reap(void);
extern void berth_cinit(void);
void __attribute__((constructor)) berth_nsenter_init(void) {
	// One malloc arena: with cgo every Go thread is a pthread, and the
	// first malloc on each new thread (cgo's thread start does one) would
	// map and trim a fresh 64 MiB arena, page-table work that is costly in
	// a VM. The Go code never uses malloc itself.
	mallopt(M_ARENA_MAX, 1);
	berth_reap(); // returns unless this is a container's reaper
	berth_nsenter();
	berth_cinit(); // returns unless this is a container init on the C path
}
*/
import "C"

// Available reports that this build carries the constructor.
const Available = true
