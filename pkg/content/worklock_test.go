package content

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestSweepSparesWorkInProgress races makers against sweeps: an entry that
// CreateLocked returned must survive every sweep until its file is closed,
// and once closed the next sweep removes it.
func TestSweepSparesWorkInProgress(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	for i := 0; i < 2; i++ {
		sweeps.Add(1)
		go func() {
			defer sweeps.Done()
			for {
				select {
				case <-stop:
					return
				default:
					SweepUnlocked(dir)
				}
			}
		}()
	}
	var makers sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		makers.Add(1)
		go func(mkdir bool) {
			defer makers.Done()
			for j := 0; j < 200; j++ {
				f, err := CreateLocked(dir, "w-", mkdir)
				if err != nil {
					errs <- err
					return
				}
				if mkdir {
					err = os.WriteFile(filepath.Join(f.Name(), "x"), nil, 0o600)
				} else {
					_, err = f.WriteString("x")
				}
				if err == nil {
					_, err = os.Stat(f.Name())
				}
				f.Close()
				os.RemoveAll(f.Name())
				if err != nil {
					errs <- err
					return
				}
			}
		}(i%2 == 0)
	}
	makers.Wait()
	close(stop)
	sweeps.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a sweep removed work in progress: %v", err)
	}

	f, err := CreateLocked(dir, "dead-", true)
	if err != nil {
		t.Fatal(err)
	}
	SweepUnlocked(dir)
	if _, err := os.Stat(f.Name()); err != nil {
		t.Fatalf("a held entry was swept: %v", err)
	}
	f.Close() // its owner dies
	SweepUnlocked(dir)
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Fatalf("debris survived the sweep: %v", err)
	}
}
