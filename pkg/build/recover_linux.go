package build

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth/berth/pkg/flock"
)

// lockBuild holds TmpDir/<id>.lock for the build's lifetime. A lock file
// that nobody holds belongs to a build that died (kill -9, power loss);
// recover cleans up after it. Making the lock file and locking it are two
// steps: TmpDir's own flock is held shared across both, and recover holds it
// exclusive, so it never takes a just-made lock file for a dead build's.
func (b *Builder) lockBuild(id string) (func(), error) {
	d, err := os.Open(b.TmpDir)
	if err != nil {
		return nil, fmt.Errorf("build lock: %w", err)
	}
	defer d.Close()
	if _, err := flock.File(d, false, true); err != nil {
		return nil, fmt.Errorf("build lock: %w", err)
	}
	p := filepath.Join(b.TmpDir, id+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("build lock: %w", err)
	}
	if ok, err := flock.File(f, true, false); !ok {
		f.Close()
		os.Remove(p)
		if err == nil {
			err = fmt.Errorf("%s is held by another build", p)
		}
		return nil, fmt.Errorf("build lock: %w", err)
	}
	return func() {
		os.Remove(p)
		f.Close()
	}, nil
}

// recover removes what dead builds left: their mounts and snapshots, their
// bundles and their lock files. Live builds hold their locks and are
// skipped; so is the whole recovery while a build is making its lock.
func (b *Builder) recover(ctx context.Context) {
	d, err := os.Open(b.TmpDir)
	if err != nil {
		return
	}
	defer d.Close()
	if ok, _ := flock.File(d, true, false); !ok {
		return
	}
	locks, _ := filepath.Glob(filepath.Join(b.TmpDir, "*.lock"))
	for _, lp := range locks {
		f, err := os.OpenFile(lp, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if ok, _ := flock.File(f, true, false); !ok {
			f.Close() // alive
			continue
		}
		id := strings.TrimSuffix(filepath.Base(lp), ".lock")
		ents, _ := filepath.Glob(filepath.Join(b.TmpDir, idPrefix+id+"-*"))
		for _, e := range ents {
			name := filepath.Base(e)
			if strings.HasSuffix(name, "-bundle") {
				os.RemoveAll(e)
				continue
			}
			err := b.Snapshots.Abort(ctx, name, e)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				slog.Debug("build recovery", "snapshot", name, "err", err)
			}
			os.Remove(e)
		}
		os.Remove(lp)
		f.Close()
	}
}
