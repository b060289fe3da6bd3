// Package runtime is berth's OCI runtime: it turns an OCI bundle (config.json
// and a root filesystem) into an isolated process tree and manages its
// lifecycle the way runc does (create, start, state, kill, delete, exec,
// pause, resume, update, events).
//
// # Processes
//
// Create re-executes the runtime binary from a read-only bind mount or a
// sealed memfd copy (so no process in a container can ever reach a host
// binary through /proc/PID/exe, CVE-2019-5736) as the container init. The
// init sets up the root filesystem in its new mount namespace, pivots into
// it, reports ready and then blocks on the state directory's exec.fifo
// until Start opens it. The namespaces are joined and made by the small C
// constructor in package nsenter, which runs before the Go runtime starts
// threads (setns into mount and user namespaces needs a single thread).
// For nearly every spec the same constructor is the whole init: the
// runtime computes a plan of every set-up step (cinit_linux.go) and the C
// code executes it and execs the container's process, so the init never
// starts a Go runtime; the Go init (init_linux.go) takes the rest, or
// every container with BERTH_GO_INIT=1. Exec works the same way.
//
// # State
//
// Each container has a directory under the runtime root holding state.json
// (written atomically) and, until started, exec.fifo. The container lives as
// long as its init process: State reports "stopped" once the init is gone.
package runtime
