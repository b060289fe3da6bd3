// Package build turns a Dockerfile and a build context into an image in the
// local store. Each step that changes the filesystem runs on a writable
// snapshot of its parent's layers; its changeset becomes one layer. Steps
// that only change metadata add a history entry with empty_layer. Every
// step's result is cached under a key of its parent's key and its content.
package build

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/pkg/build/cache"
	"github.com/berth/berth/pkg/build/dockerfile"
	"github.com/berth/berth/pkg/buildcontext"
	"github.com/berth/berth/pkg/errdefs"
)

// Builder runs builds against an image store, a snapshot store, an OCI
// runtime and a cache.
type Builder struct {
	Images    Images
	Snapshots Snapshots
	Runtime   Runtime
	Cache     *cache.Cache
	// TmpDir holds build mounts and bundles while steps run.
	TmpDir string
}

// Options are one build's inputs.
type Options struct {
	// Context is the opened build context.
	Context *buildcontext.Context
	// Dockerfile is the Dockerfile's text; DockerfileName names it in errors.
	Dockerfile     []byte
	DockerfileName string
	// Tags name the result (NAME[:TAG]).
	Tags      []string
	BuildArgs map[string]string
	// Target is the stage to build; "" for the last one.
	Target  string
	NoCache bool
	// Pull asks the store for a newer copy of each base image first.
	Pull bool
	// Network is "none" (default) or "host" for RUN steps.
	Network string
	// Labels are added to the final image.
	Labels map[string]string
	// Out receives progress and RUN output; nil discards it.
	Out io.Writer
}

// Result is what a build produced.
type Result struct {
	// ID is the image ID (config digest).
	ID digest.Digest
	// Steps counts the instructions of the stages built, Cached those the
	// cache answered, Built those that did their work (a fully cached
	// rebuild has Built == 0; FROM and ARG are neither).
	Steps, Cached, Built int
	// Warnings are the Dockerfile parser's warnings.
	Warnings []string
}

// entry is what the cache holds for a step: the image state after it.
type entry struct {
	Image  dockerspec.DockerOCIImage `json:"image"`
	Layers []Layer                   `json:"layers"`
}

// state is a stage's image being built.
type state struct {
	img    dockerspec.DockerOCIImage
	layers []Layer
	key    digest.Digest
	// args are the build arguments declared in the stage, with their values.
	args map[string]string
	// cmdSet: CMD was set in this stage (ENTRYPOINT keeps it).
	cmdSet bool
	// workdirPending: WORKDIR named a directory the next filesystem step must create.
	workdirPending bool
}

func (s *state) chain() digest.Digest {
	if len(s.layers) == 0 {
		return ""
	}
	return s.layers[len(s.layers)-1].ChainID
}

func (s *state) clone() *state {
	c := *s
	c.img = cloneImage(s.img)
	c.layers = append([]Layer(nil), s.layers...)
	c.args = map[string]string{}
	for k, v := range s.args {
		c.args[k] = v
	}
	return &c
}

// run is one build in progress.
type run struct {
	b       *Builder
	o       Options
	file    *dockerfile.File
	plan    *dockerfile.Plan
	out     io.Writer
	results map[int]*state
	id      string
	seq     int
	// madeWorkdir: the last filesystem step created the pending WORKDIR.
	madeWorkdir bool
	step        int
	total       int
	res         Result
}

// Build runs the build o describes and returns the image ID.
func (b *Builder) Build(ctx context.Context, o Options) (*Result, error) {
	if o.Network == "" {
		o.Network = "none"
	}
	if o.Network != "none" && o.Network != "host" {
		return nil, fmt.Errorf("--network %q: want none or host: %w", o.Network, errdefs.ErrInvalidArgument)
	}
	if o.DockerfileName == "" {
		o.DockerfileName = "Dockerfile"
	}
	for _, t := range o.Tags {
		if err := ValidateTag(t); err != nil {
			return nil, err
		}
	}
	f, err := dockerfile.Parse(strings.NewReader(string(o.Dockerfile)), o.DockerfileName)
	if err != nil {
		return nil, err
	}
	plan, err := dockerfile.NewPlan(f, o.Target, o.BuildArgs)
	if err != nil {
		return nil, err
	}
	if l, ok := b.Images.(Leaser); ok {
		release, err := l.Lease()
		if err != nil {
			return nil, err
		}
		defer release()
	}
	r := &run{b: b, o: o, file: f, plan: plan, out: o.Out, results: map[int]*state{}}
	if r.out == nil {
		r.out = io.Discard
	}
	r.res.Warnings = f.Warnings
	for _, i := range plan.Order {
		r.total += 1 + len(plan.Stages[i].Commands)
	}
	if err := os.MkdirAll(b.TmpDir, 0o700); err != nil {
		return nil, err
	}
	r.id = newBuildID()
	unlock, err := b.lockBuild(r.id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	b.recover(ctx)
	for n, i := range plan.Order {
		st, err := r.buildStage(ctx, plan.Stages[i], n+1, len(plan.Order))
		if err != nil {
			return nil, err
		}
		r.results[i] = st
	}
	final := r.results[plan.Target]
	img := cloneImage(final.img)
	if len(o.Labels) > 0 {
		if img.Config.Labels == nil {
			img.Config.Labels = map[string]string{}
		}
		for k, v := range o.Labels {
			img.Config.Labels[k] = v
		}
	}
	id, err := b.Images.Create(ctx, img, final.layers, o.Tags...)
	if err != nil {
		return nil, fmt.Errorf("writing the image: %w", err)
	}
	r.res.ID = id
	fmt.Fprintln(r.out, strings.TrimSpace("COMMIT "+strings.Join(o.Tags, " ")))
	fmt.Fprintf(r.out, "--> %s\n", id.Encoded()[:12])
	for _, t := range o.Tags {
		fmt.Fprintf(r.out, "Successfully tagged %s\n", NormalizeTag(t))
	}
	return &r.res, nil
}

// buildStage runs one stage and returns its final state.
func (r *run) buildStage(ctx context.Context, s *dockerfile.Stage, n, of int) (*state, error) {
	prefix := fmt.Sprintf("[%d/%d] ", n, of)
	text := "FROM " + s.Base
	if s.Name != "" {
		text += " AS " + s.Name
	}
	st, err := r.from(ctx, s, prefix, text)
	if err != nil {
		return nil, r.stepError(s.Line, text, err)
	}
	// The base image's ONBUILD triggers run first, then are dropped.
	triggers := st.img.Config.OnBuild
	st.img.Config.OnBuild = nil
	for _, t := range triggers {
		cmds, err := parseTrigger(t)
		if err != nil {
			return nil, r.stepError(s.Line, "ONBUILD "+t, err)
		}
		for _, c := range cmds {
			r.step++
			if err := r.dispatch(ctx, st, s, c, prefix); err != nil {
				return nil, r.stepError(s.Line, t, err)
			}
		}
	}
	for _, c := range s.Commands {
		r.step++
		if err := r.dispatch(ctx, st, s, c, prefix); err != nil {
			return nil, r.stepError(lineOf(c), r.file.Line(lineOf(c)), err)
		}
	}
	if st.workdirPending {
		if err := r.mkdirStep(ctx, st); err != nil {
			return nil, r.stepError(s.Line, "WORKDIR "+st.img.Config.WorkingDir, err)
		}
	}
	return st, nil
}

// StepError is a build step that failed: where, which, and why.
type StepError struct {
	File string
	Line int
	Text string
	Err  error
}

func (e *StepError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Text, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Text, e.Err)
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

func (r *run) stepError(line int, text string, err error) error {
	var se *StepError
	if errors.As(err, &se) {
		return err
	}
	return &StepError{File: r.file.Name, Line: line, Text: text, Err: err}
}

// from starts a stage's state from scratch, an image or an earlier stage.
func (r *run) from(ctx context.Context, s *dockerfile.Stage, prefix, text string) (*state, error) {
	r.step++
	fmt.Fprintf(r.out, "%sSTEP %d/%d: %s\n", prefix, r.step, r.total, text)
	r.res.Steps++
	var st *state
	switch {
	case s.BaseStage >= 0:
		st = r.results[s.BaseStage].clone()
		st.key = stepKey(st.key, "FROM stage")
	case strings.EqualFold(s.Base, dockerfile.Scratch):
		st = &state{img: dockerspec.DockerOCIImage{Image: ocispec.Image{
			Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
			RootFS:   ocispec.RootFS{Type: "layers"},
		}}}
		st.key = stepKey("", "FROM scratch", st.img.OS, st.img.Architecture)
	default:
		base, err := r.resolve(ctx, s.Base)
		if err != nil {
			return nil, err
		}
		st = &state{img: cloneImage(base.Config), layers: append([]Layer(nil), base.Layers...)}
		st.key = stepKey("", "FROM image", base.ID.String())
	}
	st.args = map[string]string{}
	st.cmdSet = false
	if _, ok := dockerfile.GetEnv(st.img.Config.Env, "PATH"); !ok {
		st.img.Config.Env = dockerfile.SetEnv(st.img.Config.Env, "PATH", dockerfile.DefaultPath)
	}
	if st.img.RootFS.Type == "" {
		st.img.RootFS.Type = "layers"
	}
	return st, nil
}

// resolve finds a base image, pulling it first with --pull.
func (r *run) resolve(ctx context.Context, ref string) (*Base, error) {
	if r.o.Pull {
		p, ok := r.b.Images.(Puller)
		if !ok {
			return nil, fmt.Errorf("--pull: this image store cannot pull: %w", errdefs.ErrNotImplemented)
		}
		if err := p.Pull(ctx, ref); err != nil {
			return nil, fmt.Errorf("pulling %s: %w", ref, err)
		}
	}
	base, err := r.b.Images.Resolve(ctx, ref)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, fmt.Errorf("image %q not found in the local store (berth pull or berth import it first): %w", ref, err)
		}
		return nil, fmt.Errorf("resolving image %q: %w", ref, err)
	}
	return base, nil
}

// stepKey hashes a parent key and a step's parts into the step's cache key.
func stepKey(parent digest.Digest, parts ...string) digest.Digest {
	h := sha256.New()
	fmt.Fprintf(h, "berth-build-v1\x00%s\x00", parent)
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return digest.NewDigest(digest.SHA256, h)
}

// cached looks key up and, on a hit whose layers still exist, applies it to st.
func (r *run) cached(ctx context.Context, st *state, key digest.Digest) bool {
	if r.o.NoCache || r.b.Cache == nil {
		return false
	}
	var e entry
	if !r.b.Cache.Get(key, &e) {
		return false
	}
	for _, l := range e.Layers {
		if !r.b.Snapshots.HasLayer(ctx, l) {
			return false
		}
	}
	st.img, st.layers, st.key = e.Image, e.Layers, key
	return true
}

// remember stores st under its key.
func (r *run) remember(st *state) {
	if r.b.Cache == nil {
		return
	}
	if err := r.b.Cache.Put(st.key, entry{Image: st.img, Layers: st.layers}); err != nil {
		fmt.Fprintf(r.out, "warning: %v\n", err)
	}
}

// addHistory records a step in the image history.
func addHistory(st *state, createdBy string, empty bool) {
	now := time.Now().UTC()
	st.img.History = append(st.img.History, ocispec.History{
		Created: &now, CreatedBy: createdBy, Comment: "berth build", EmptyLayer: empty,
	})
	st.img.Created = &now
}

func cloneImage(img dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	c := img
	c.Config.Env = append([]string(nil), img.Config.Env...)
	c.Config.Cmd = append([]string(nil), img.Config.Cmd...)
	c.Config.Entrypoint = append([]string(nil), img.Config.Entrypoint...)
	c.Config.Shell = append([]string(nil), img.Config.Shell...)
	c.Config.OnBuild = append([]string(nil), img.Config.OnBuild...)
	c.Config.Labels = cloneMap(img.Config.Labels)
	c.Config.ExposedPorts = cloneSet(img.Config.ExposedPorts)
	c.Config.Volumes = cloneSet(img.Config.Volumes)
	c.RootFS.DiffIDs = append([]digest.Digest(nil), img.RootFS.DiffIDs...)
	c.History = append([]ocispec.History(nil), img.History...)
	if img.Config.Healthcheck != nil {
		h := *img.Config.Healthcheck
		c.Config.Healthcheck = &h
	}
	if len(c.Config.Cmd) == 0 {
		c.Config.Cmd = nil
	}
	if len(c.Config.Entrypoint) == 0 {
		c.Config.Entrypoint = nil
	}
	if len(c.Config.Env) == 0 {
		c.Config.Env = nil
	}
	if len(c.Config.Shell) == 0 {
		c.Config.Shell = nil
	}
	if len(c.Config.OnBuild) == 0 {
		c.Config.OnBuild = nil
	}
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func cloneSet(m map[string]struct{}) map[string]struct{} {
	if m == nil {
		return nil
	}
	c := make(map[string]struct{}, len(m))
	for k := range m {
		c[k] = struct{}{}
	}
	return c
}

func lineOf(c instructions.Command) int {
	if l := c.Location(); len(l) > 0 {
		return l[0].Start.Line
	}
	return 0
}

// idPrefix starts the names of everything a build creates: snapshot keys,
// mount directories, bundles and containers are idPrefix+BUILD+"-"+N.
const idPrefix = "berth-build-"

// newBuildID returns a fresh build ID.
func newBuildID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newID returns a fresh name for a snapshot, mount, bundle or container of this build.
func (r *run) newID() string {
	r.seq++
	return fmt.Sprintf("%s%s-%d", idPrefix, r.id, r.seq)
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
