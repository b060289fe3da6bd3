package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/berth/berth/internal/version"
	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/layer"
	"github.com/berth/berth/pkg/snapshot"
)

// ProgressFunc receives transfer progress: id is a layer's short digest
// (12 hex digits), status a docker-style word ("Waiting", "Downloading",
// "Extracting", "Pull complete", "Already exists", "Pushing", "Pushed",
// "Layer already exists", "Mounted from ..."), current and total are bytes
// (total 0 when unknown). It is called from several goroutines.
type ProgressFunc func(id, status string, current, total int64)

// RemoteOptions are what every registry operation shares.
type RemoteOptions struct {
	// Keychain finds credentials (default: authn.DefaultKeychain, which
	// reads docker's config.json, as berth login writes it).
	Keychain authn.Keychain
	// Transport is the HTTP transport (default: remote.DefaultTransport).
	Transport http.RoundTripper
	// Progress, when set, is told how each layer is doing.
	Progress ProgressFunc
	// Jobs is how many layers move at once (default 4).
	Jobs int
}

func (o RemoteOptions) remote(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	jobs := o.jobs()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithJobs(jobs),
		remote.WithUserAgent("berth/" + version.Version)}
	opts = append(opts, remote.WithTransport(RegistryTransport(o.Transport)))
	return opts
}

func (o RemoteOptions) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return 4
}

func (o RemoteOptions) progress(id, status string, cur, total int64) {
	if o.Progress != nil {
		o.Progress(id, status, cur, total)
	}
}

// PullOptions tune Pull.
type PullOptions struct {
	RemoteOptions
	// Platform picks from an index (default: this machine's).
	Platform *v1.Platform
}

// PullResult says what Pull did.
type PullResult struct {
	Image *Image
	// Ref is the canonical reference pulled; Digest the digest of the
	// document it named (an index or a manifest).
	Ref    string
	Digest digest.Digest
	// Downloaded is false when every layer was here already and the name
	// already pointed at the image.
	Downloaded bool
}

// Pull fetches ref from its registry: the manifest (through an index, for
// the platform asked for), the config and the layers that are not here
// yet, downloaded, verified and unpacked in parallel. The image is named
// only when all of it is in the store.
func (s *Store) Pull(ctx context.Context, refStr string, opts PullOptions) (*PullResult, error) {
	ref, err := ParseReference(refStr)
	if err != nil {
		return nil, err
	}
	if mirrors := mirrorsFor(ref, opts.Transport); len(mirrors) > 0 {
		return s.pullMirrored(ctx, refStr, opts, mirrors)
	}
	platform := DefaultPlatform()
	if opts.Platform != nil {
		platform = *opts.Platform
	}
	release, err := s.Lease()
	if err != nil {
		return nil, err
	}
	defer release()
	puller, err := remote.NewPuller(opts.remote(ctx)...)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	desc, err := puller.Get(ctx, ref)
	if err != nil {
		return nil, registryError("pulling "+refStr, err)
	}
	top := fromHash(desc.Digest)
	raw := desc.Manifest
	kind, err := docKind(raw, string(desc.MediaType))
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", refStr, err)
	}
	var indexRaw []byte
	var index digest.Digest
	mdgst := top
	if kind.IsIndex() {
		indexRaw, index = raw, top
		d, err := selectManifest(raw, platform)
		if err != nil {
			return nil, fmt.Errorf("pulling %s: %w", refStr, err)
		}
		mdesc, err := puller.Get(ctx, ref.Context().Digest(d.Digest.String()))
		if err != nil {
			return nil, registryError("pulling "+refStr, err)
		}
		raw, mdgst = mdesc.Manifest, fromHash(d.Digest)
		if digest.FromBytes(raw) != mdgst && mdgst.Algorithm() == digest.SHA256 {
			return nil, fmt.Errorf("pulling %s: manifest digest mismatch: %w", refStr, errdefs.ErrInvalidArgument)
		}
		if kind, err = docKind(raw, string(mdesc.MediaType)); err != nil {
			return nil, fmt.Errorf("pulling %s: %w", refStr, err)
		}
		if kind.IsIndex() {
			return nil, fmt.Errorf("pulling %s: nested index: %w", refStr, errdefs.ErrNotImplemented)
		}
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", refStr, err)
	}
	repo := ref.Context()

	// Config.
	cfgDigest := fromHash(m.Config.Digest)
	if err := content.Validate(cfgDigest); err != nil {
		return nil, err
	}
	// The config is verified in memory; it is stored, with the manifest
	// and the index, under the same syncfs as the layers.
	blobs := &blobClient{repo: repo, opts: opts.RemoteOptions}
	extra := []memBlob{{mdgst, raw}}
	if indexRaw != nil {
		extra = append(extra, memBlob{index, indexRaw})
	}
	var rawCfg []byte
	if s.content.Has(cfgDigest) {
		rawCfg, err = s.content.ReadAll(cfgDigest, maxConfig)
	} else {
		rawCfg, err = blobs.fetch(ctx, cfgDigest, m.Config.Size, maxConfig)
		extra = append(extra, memBlob{cfgDigest, rawCfg})
	}
	if err != nil {
		return nil, fmt.Errorf("pulling %s: config: %w", refStr, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("pulling %s: config: %w: %v", refStr, errdefs.ErrInvalidArgument, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("pulling %s: %d layers but %d diff IDs in the config: %w", refStr, len(m.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	layers := make([]Layer, len(m.Layers))
	diffIDs := make([]digest.Digest, len(m.Layers))
	for i, l := range m.Layers {
		diffIDs[i] = fromHash(cfg.RootFS.DiffIDs[i])
		layers[i] = Layer{Digest: fromHash(l.Digest), Size: l.Size, MediaType: string(l.MediaType), DiffID: diffIDs[i]}
		if err := content.Validate(layers[i].Digest); err != nil {
			return nil, err
		}
		if err := content.Validate(diffIDs[i]); err != nil {
			return nil, err
		}
	}
	chains := snapshot.ChainIDs(diffIDs)
	slog.Debug("pull: manifest and config", "ref", refStr, "elapsed", time.Since(start))
	layersStart := time.Now()
	downloaded, err := s.fetchLayers(ctx, layers, chains, opts.RemoteOptions, func(ctx context.Context, l Layer, progress func(int64)) (io.ReadCloser, error) {
		return blobs.open(ctx, l.Digest)
	}, extra)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", refStr, err)
	}
	slog.Debug("pull: layers downloaded, verified, unpacked and committed", "layers", len(layers), "elapsed", time.Since(layersStart))
	for i := range layers {
		layers[i].ChainID = chains[i]
	}
	canonRepo := repoName(repo)
	names := []string{canonRepo + "@" + top.String()}
	canon := canonical(ref)
	if t, ok := ref.(name.Tag); ok {
		names = append(names, canonRepo+":"+t.TagStr())
	}
	refs, _ := s.readRefs()
	alreadyNamed := true
	for _, n := range names {
		if refs[n] != cfgDigest {
			alreadyNamed = false
		}
	}
	img, err := s.commitImage(ctx, &record{ID: cfgDigest, Manifest: mdgst, MediaType: string(kind), Index: index, Layers: layers, Sources: []string{canonRepo}}, names)
	if err != nil {
		return nil, err
	}
	slog.Debug("pull: done", "ref", refStr, "elapsed", time.Since(start))
	return &PullResult{Image: img, Ref: canon, Digest: top, Downloaded: downloaded || !alreadyNamed}, nil
}

// memBlob is a small blob (manifest, index, config) held in memory until
// it is stored with the layers.
type memBlob struct {
	d digest.Digest
	b []byte
}

// opener returns the compressed stream of a layer blob.
type opener func(ctx context.Context, l Layer, progress func(int64)) (io.ReadCloser, error)

// fetched is one layer brought in by fetchLayer, not yet visible: its
// blob writer (nil when the blob was here) and unpacked snapshot (nil when
// the snapshot was here).
type fetched struct {
	w *content.Writer
	u *snapshot.Unpacked
}

func (f *fetched) close() {
	if f.w != nil {
		f.w.Close()
	}
	if f.u != nil {
		f.u.Close()
	}
}

// fetchLayers makes every layer's blob and snapshot present: blobs that
// are missing are read from open while being unpacked; snapshots missing
// for blobs that are here are unpacked from the store. Layers move in
// parallel (they unpack into separate directories). When all are through,
// one syncfs makes them durable, then the blobs are moved into place and
// the snapshots committed bottom up. The extra blobs (verified when they
// are committed) are stored under the same syncfs. It reports whether any
// layer was fetched.
func (s *Store) fetchLayers(ctx context.Context, layers []Layer, chains []digest.Digest, opts RemoteOptions, open opener, extra []memBlob) (bool, error) {
	got := make([]*fetched, len(layers))
	defer func() {
		for _, f := range got {
			if f != nil {
				f.close()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.jobs())
	// What the layers write is flushed in the background as it is
	// written; the syncfs below then finds only the last batch to flush.
	var flusher, blobFlusher *content.Flusher
	defer func() { flusher.Stop(); blobFlusher.Stop() }()
	pending := false
	for i, l := range layers {
		id := shortID(l.Digest)
		needBlob := !s.content.Has(l.Digest)
		needSnap := !s.snapshots.Has(chains[i])
		if !needBlob && !needSnap {
			opts.progress(id, "Already exists", 0, 0)
			continue
		}
		if !pending {
			flusher = content.StartFlusher(s.snapshots.Root(), 0)
			blobFlusher = flusher
			if !sameFS(s.content.Root(), s.snapshots.Root()) {
				blobFlusher = content.StartFlusher(s.content.Root(), 0)
			}
		}
		pending = true
		opts.progress(id, "Waiting", 0, l.Size)
		g.Go(func() error {
			t0 := time.Now()
			f, err := s.fetchLayer(gctx, l, needBlob, needSnap, opts, open, flusher, blobFlusher)
			slog.Debug("pull: layer", "digest", l.Digest, "bytes", l.Size, "elapsed", time.Since(t0))
			if err != nil {
				opts.progress(id, "Failed", 0, 0)
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			got[i] = f
			opts.progress(id, "Pull complete", l.Size, l.Size)
			return nil
		})
	}
	err := g.Wait()
	flusher.Stop()
	blobFlusher.Stop()
	if err != nil {
		return false, err
	}
	if !pending {
		for _, b := range extra {
			if err := s.content.Ingest(ctx, b.d, int64(len(b.b)), bytes.NewReader(b.b)); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	t0 := time.Now()
	extraW := make([]*content.Writer, len(extra))
	defer func() {
		for _, w := range extraW {
			if w != nil {
				w.Close()
			}
		}
	}()
	for i, b := range extra {
		if s.content.Has(b.d) {
			continue
		}
		w, err := s.content.WriterFor(b.d.Algorithm())
		if err != nil {
			return false, err
		}
		extraW[i] = w
		if _, err := w.Write(b.b); err != nil {
			return false, fmt.Errorf("storing blob %s: %w", b.d, err)
		}
	}
	// Records first, so the one syncfs covers them too.
	for i := range layers {
		if f := got[i]; f != nil && f.u != nil {
			var parent digest.Digest
			if i > 0 {
				parent = chains[i-1]
			}
			if err := f.u.Prepare(parent); err != nil {
				return false, err
			}
		}
	}
	snapshot.SyncFS(s.content.Root())
	if !sameFS(s.content.Root(), s.snapshots.Root()) {
		snapshot.SyncFS(s.snapshots.Root())
	}
	slog.Debug("pull: syncfs", "elapsed", time.Since(t0))
	t0 = time.Now()
	defer func() { slog.Debug("pull: layers committed", "elapsed", time.Since(t0)) }()
	// The renames below are made durable together, before the image
	// record that names them is written.
	defer s.snapshots.SyncDirs()
	defer s.content.SyncDir()
	var parent digest.Digest
	for i, l := range layers {
		f := got[i]
		if f != nil && f.w != nil {
			f.w.Synced, f.w.DeferDirSync = true, true
			if _, err := f.w.Commit(l.Digest, l.Size); err != nil {
				return false, err
			}
		}
		if f != nil && f.u != nil {
			f.u.Synced = true
			c, err := f.u.Commit(parent)
			if err != nil {
				return false, err
			}
			if c != chains[i] {
				return false, fmt.Errorf("layer %d: chain %s, want %s: %w", i, c, chains[i], errdefs.ErrInvalidArgument)
			}
		} else if !s.snapshots.Has(chains[i]) {
			return false, fmt.Errorf("layer %d snapshot %s vanished: %w", i, chains[i], errdefs.ErrNotFound)
		}
		parent = chains[i]
	}
	for i, w := range extraW {
		if w != nil {
			w.Synced, w.DeferDirSync = true, true
			if _, err := w.Commit(extra[i].d, int64(len(extra[i].b))); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// fetchLayer reads layer l (from open when its blob is missing, else from
// the store), unpacking it when its snapshot is missing. The blob is
// verified but not yet moved into place.
func (s *Store) fetchLayer(ctx context.Context, l Layer, needBlob, needSnap bool, opts RemoteOptions, open opener, flusher, blobFlusher *content.Flusher) (_ *fetched, err error) {
	id := shortID(l.Digest)
	f := &fetched{}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	var src io.Reader
	if needBlob {
		if l.Digest.Algorithm() != digest.SHA256 {
			return nil, fmt.Errorf("layer digest algorithm %s: %w", l.Digest.Algorithm(), errdefs.ErrNotImplemented)
		}
		rc, err := open(ctx, l, nil)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if f.w, err = s.content.Writer(); err != nil {
			return nil, err
		}
		f.w.Flusher = blobFlusher
		pr := &progressReader{r: io.LimitReader(rc, l.Size+1), total: l.Size, status: "Downloading", id: id, opts: opts}
		src = io.TeeReader(pr, f.w)
	} else {
		blob, err := s.content.Open(l.Digest)
		if err != nil {
			return nil, err
		}
		defer blob.Close()
		src = &progressReader{r: blob, total: l.Size, status: "Extracting", id: id, opts: opts}
	}
	if needSnap {
		zr, _, err := layer.Decompress(src)
		if err != nil {
			return nil, err
		}
		f.u, err = s.snapshots.Unpack(ctx, l.DiffID, zr, snapshot.UnpackOptions{Flusher: flusher})
		zr.Close()
		if err != nil {
			return nil, err
		}
	}
	// The tar ended; whatever follows in the blob (padding, the gzip
	// trailer) must still be read for the blob digest.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, err
	}
	if f.w != nil {
		if err := f.w.Verify(l.Digest, l.Size); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// progressReader reports bytes read, about every MiB.
type progressReader struct {
	r       io.Reader
	n, last int64
	total   int64
	id      string
	status  string
	opts    RemoteOptions
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last >= 1<<20 || (err == io.EOF && p.n != p.last) {
		p.last = p.n
		p.opts.progress(p.id, p.status, p.n, p.total)
	}
	return n, err
}

// blobClient fetches blobs from one repository with one authenticated
// transport (one token for all layers). It does not hash what it reads:
// the content store's writer verifies size and digest, once.
type blobClient struct {
	repo   name.Repository
	opts   RemoteOptions
	once   sync.Once
	client *http.Client
	err    error
}

func (b *blobClient) open(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	b.once.Do(func() {
		kc := b.opts.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		auth, err := authn.Resolve(ctx, kc, b.repo)
		if err != nil {
			b.err = err
			return
		}
		rt := transport.NewUserAgent(RegistryTransport(b.opts.Transport), "berth/"+version.Version)
		t, err := transport.NewWithContext(ctx, b.repo.Registry, auth, rt, []string{b.repo.Scope(transport.PullScope)})
		if err != nil {
			b.err = registryError("connecting to "+b.repo.RegistryStr(), err)
			return
		}
		b.client = &http.Client{Transport: t}
	})
	if b.err != nil {
		return nil, b.err
	}
	u := url.URL{Scheme: b.repo.Registry.Scheme(), Host: b.repo.RegistryStr(), Path: "/v2/" + b.repo.RepositoryStr() + "/blobs/" + d.String()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, registryError("fetching "+d.String(), err)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, registryError("fetching "+d.String(), err)
	}
	return resp.Body, nil
}

// fetch reads the small blob d (at most max bytes; exactly size bytes
// when size is not negative) into memory and verifies it.
func (b *blobClient) fetch(ctx context.Context, d digest.Digest, size, max int64) ([]byte, error) {
	if size > max {
		return nil, fmt.Errorf("blob %s is larger than %d bytes: %w", d, max, errdefs.ErrInvalidArgument)
	}
	rc, err := b.open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, registryError("fetching "+d.String(), err)
	}
	if int64(len(raw)) > max {
		return nil, fmt.Errorf("blob %s is larger than %d bytes: %w", d, max, errdefs.ErrInvalidArgument)
	}
	if size >= 0 && int64(len(raw)) != size {
		return nil, fmt.Errorf("blob %s: got %d bytes, want %d: %w", d, len(raw), size, errdefs.ErrInvalidArgument)
	}
	if got := d.Algorithm().FromBytes(raw); got != d {
		return nil, fmt.Errorf("blob digest mismatch: got %s, want %s: %w", got, d, errdefs.ErrInvalidArgument)
	}
	return raw, nil
}
