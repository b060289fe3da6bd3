package content

import (
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// DefaultFlushEvery is how many bytes a Flusher lets writers add before it
// flushes the filesystem again.
const DefaultFlushEvery = 32 << 20

// Flusher overlaps the work that makes written data durable with the
// writing itself. A transfer that writes hundreds of megabytes and makes
// them durable with one syncfs at the end waits, at the end, for all of it
// to be written back and for the disk to flush it. A Flusher runs syncfs in
// the background each time writers have added another batch of bytes, so
// that the final syncfs — which the caller still does, and which alone
// gives the durability guarantee — only finds the last batch.
//
// Writers report what they wrote with Wrote; a nil *Flusher ignores it.
type Flusher struct {
	every   int64
	pending atomic.Int64
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	flushes atomic.Int64 // syncfs calls made, for tests
}

// StartFlusher starts a Flusher for the filesystem that holds dir,
// flushing after every `every` bytes written (DefaultFlushEvery when
// every <= 0). It returns nil (a Flusher that does nothing) when dir
// cannot be opened.
func StartFlusher(dir string, every int64) *Flusher {
	if every <= 0 {
		every = DefaultFlushEvery
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	f := &Flusher{every: every, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer d.Close()
		for {
			select {
			case <-f.stop:
				return
			case <-f.kick:
			}
			f.pending.Store(0)
			unix.Syncfs(int(d.Fd()))
			f.flushes.Add(1)
		}
	}()
	return f
}

// Wrote tells the Flusher that n more bytes were written.
func (f *Flusher) Wrote(n int) {
	if f == nil {
		return
	}
	if f.pending.Add(int64(n)) >= f.every {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// Stop ends the background flushing and waits for a flush in progress.
func (f *Flusher) Stop() {
	if f == nil {
		return
	}
	f.once.Do(func() { close(f.stop) })
	<-f.done
}
