package engine

import "github.com/berth/berth/pkg/flock"

// fileLock is an flock(2) on a file; the kernel drops it when its holder dies,
// which is what makes it a liveness signal for monitors.
type fileLock = flock.Lock

var (
	lockFile    = flock.Acquire
	tryLockFile = flock.TryAcquire
)
