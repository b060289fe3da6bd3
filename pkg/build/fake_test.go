package build

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/errdefs"
)

// dirStore is an in-test image and snapshot store: each chain is a full
// copy of the rootfs in a directory; "mounting" copies it. It lets the
// builder's semantics be tested without overlayfs or the image package.
type dirStore struct {
	t      testing.TB
	dir    string
	mu     sync.Mutex
	chains map[digest.Digest]string
	active map[string]digest.Digest
	images map[string]*Base
	byID   map[digest.Digest]*Base
}

func newDirStore(t testing.TB) *dirStore {
	return &dirStore{t: t, dir: t.TempDir(), chains: map[digest.Digest]string{}, active: map[string]digest.Digest{},
		images: map[string]*Base{}, byID: map[digest.Digest]*Base{}}
}

func cpTree(from, to string) error {
	out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp: %v: %s", err, out)
	}
	return nil
}

func (s *dirStore) Start(ctx context.Context, key string, parent digest.Digest, target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if parent != "" {
		src, ok := s.chains[parent]
		if !ok {
			return fmt.Errorf("chain %s: %w", parent, errdefs.ErrNotFound)
		}
		if err := cpTree(src, target); err != nil {
			return err
		}
	}
	s.active[key] = parent
	return nil
}

// treeDigest hashes a listing of the tree: names, modes, owners, content.
func treeDigest(dir string) digest.Digest {
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		fi, _ := os.Lstat(p)
		uid, gid := 0, 0
		if fi != nil {
			uid, gid = ownerOf(fi)
		}
		fmt.Fprintf(h, "%s %v %d:%d", rel, fi.Mode(), uid, gid)
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			h.Write(b)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			fmt.Fprint(h, l)
		}
		fmt.Fprintln(h)
		return nil
	})
	return digest.NewDigest(digest.SHA256, h)
}

func (s *dirStore) Commit(ctx context.Context, key, target string) (Layer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.active[key]
	delete(s.active, key)
	diff := treeDigest(target)
	chain := digest.FromString(string(parent) + " " + string(diff))
	if _, ok := s.chains[chain]; !ok {
		d := filepath.Join(s.dir, chain.Encoded())
		if err := os.Mkdir(d, 0o755); err != nil {
			return Layer{}, err
		}
		if err := cpTree(target, d); err != nil {
			return Layer{}, err
		}
		s.chains[chain] = d
	}
	clearDir(target)
	return Layer{Digest: diff, DiffID: diff, ChainID: chain, MediaType: "fake"}, nil
}

func clearDir(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

func (s *dirStore) Abort(ctx context.Context, key, target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.active, key)
	clearDir(target)
	return nil
}

func (s *dirStore) HasLayer(ctx context.Context, l Layer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.chains[l.ChainID]
	return ok
}

func (s *dirStore) Resolve(ctx context.Context, ref string) (*Base, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.images[NormalizeTag(ref)]; ok {
		return b, nil
	}
	if b, ok := s.byID[digest.Digest(ref)]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
}

func (s *dirStore) Create(ctx context.Context, cfg dockerspec.DockerOCIImage, layers []Layer, names ...string) (digest.Digest, error) {
	cfg.RootFS.DiffIDs = nil
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	id := digest.FromBytes(raw)
	b := &Base{ID: id, Config: cfg, Layers: layers}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id] = b
	for _, n := range names {
		s.images[NormalizeTag(n)] = b
	}
	return id, nil
}

// importDir stores dir as a one-layer image named ref.
func (s *dirStore) importDir(ref, dir string) {
	s.t.Helper()
	ctx := context.Background()
	target := filepath.Join(s.dir, "import-target")
	os.Mkdir(target, 0o755)
	if err := s.Start(ctx, "import", "", target); err != nil {
		s.t.Fatal(err)
	}
	if err := cpTree(dir, target); err != nil {
		s.t.Fatal(err)
	}
	l, err := s.Commit(ctx, "import", target)
	if err != nil {
		s.t.Fatal(err)
	}
	var cfg dockerspec.DockerOCIImage
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Env = []string{"PATH=/bin:/usr/bin"}
	cfg.Config.Cmd = []string{"sh"}
	if _, err := s.Create(ctx, cfg, []Layer{l}, ref); err != nil {
		s.t.Fatal(err)
	}
}

// rootfs returns the directory holding the image's full filesystem.
func (s *dirStore) rootfs(b *Base) string {
	if len(b.Layers) == 0 {
		return s.t.TempDir()
	}
	return s.chains[b.Layers[len(b.Layers)-1].ChainID]
}
