package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/build/fscopy"
	"github.com/berth/berth/pkg/buildcontext"
)

// copySource is where COPY reads from.
type copySource interface{ tree() *fscopy.Tree }

type contextSource struct{ c *buildcontext.Context }

func (s *contextSource) tree() *fscopy.Tree { return s.c.Tree }

type mountedSource struct{ t *fscopy.Tree }

func (s *mountedSource) tree() *fscopy.Tree { return s.t }

// source opens COPY's source: the context, an earlier stage's filesystem
// or an image's, mounted read-only-by-use on a throwaway snapshot. It
// returns whether owners are kept, the key part naming the source, and a
// release function.
func (r *run) source(ctx context.Context, st *state, from string) (copySource, bool, string, func(), error) {
	if from == "" {
		return &contextSource{r.o.Context}, false, "context", func() {}, nil
	}
	var layers []Layer
	var srcKey string
	if j, ok := r.plan.StageRef(from, r.currentStage()); ok {
		res := r.results[j]
		if res == nil {
			return nil, false, "", nil, fmt.Errorf("COPY --from=%s: stage not built", from)
		}
		layers, srcKey = res.layers, "stage "+res.key.String()
	} else {
		base, err := r.resolve(ctx, from)
		if err != nil {
			return nil, false, "", nil, fmt.Errorf("COPY --from=%s: %w", from, err)
		}
		layers, srcKey = base.Layers, "image "+base.ID.String()
	}
	var chain digest.Digest
	if len(layers) > 0 {
		chain = layers[len(layers)-1].ChainID
	}
	id := r.newID()
	target := filepath.Join(r.b.TmpDir, id)
	if err := os.Mkdir(target, 0o755); err != nil {
		return nil, false, "", nil, err
	}
	if err := r.b.Snapshots.Start(ctx, id, chain, target); err != nil {
		os.Remove(target)
		return nil, false, "", nil, err
	}
	t, err := fscopy.OpenTree(target)
	if err != nil {
		r.b.Snapshots.Abort(ctx, id, target)
		os.Remove(target)
		return nil, false, "", nil, err
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			t.Close()
			r.b.Snapshots.Abort(context.WithoutCancel(ctx), id, target)
			os.Remove(target)
		})
	}
	return &mountedSource{t}, true, srcKey, release, nil
}

// currentStage is the index of the stage being built: the first in build
// order without a result.
func (r *run) currentStage() int {
	for _, i := range r.plan.Order {
		if r.results[i] == nil {
			return i
		}
	}
	return len(r.plan.Stages)
}

// tailWriter keeps the last lines written to it.
type tailWriter struct {
	mu   sync.Mutex
	max  int
	buf  []string
	part string
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.part + string(p)
	parts := strings.Split(s, "\n")
	w.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		w.buf = append(w.buf, l)
		if len(w.buf) > w.max {
			w.buf = w.buf[1:]
		}
	}
	return len(p), nil
}

// partial reports whether the last line written lacks its newline.
func (w *tailWriter) partial() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.part != ""
}

func (w *tailWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]string(nil), w.buf...)
	if w.part != "" {
		out = append(out, w.part)
	}
	if len(out) > w.max {
		out = out[len(out)-w.max:]
	}
	return out
}

// multiWriter writes to each writer, ignoring errors of all but the first.
type multiWriter []io.Writer

func (m multiWriter) Write(p []byte) (int, error) {
	n, err := m[0].Write(p)
	for _, w := range m[1:] {
		w.Write(p)
	}
	return n, err
}
