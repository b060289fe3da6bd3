package build

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/build/dockerfile"
	"github.com/berth/berth/pkg/build/fscopy"
	"github.com/berth/berth/pkg/errdefs"
)

// fsStep runs fn on a writable snapshot of st's layers mounted at a fresh
// directory and commits the changes as a new layer. When keep is false
// after fn returns, the snapshot is discarded instead (nothing changed).
// Whatever happens, the mount and the snapshot are gone when it returns.
func (r *run) fsStep(ctx context.Context, st *state, fn func(t *fscopy.Tree) (keep bool, err error)) (*Layer, error) {
	id := r.newID()
	target := filepath.Join(r.b.TmpDir, id)
	if err := os.Mkdir(target, 0o755); err != nil {
		return nil, err
	}
	defer os.Remove(target)
	if err := r.b.Snapshots.Start(ctx, id, st.chain(), target); err != nil {
		return nil, fmt.Errorf("preparing the build filesystem: %w", err)
	}
	keep, err := func() (bool, error) {
		t, err := fscopy.OpenTree(target)
		if err != nil {
			return false, err
		}
		defer t.Close()
		if st.workdirPending {
			ids, err := lookupUser(t, st.img.Config.User)
			if err != nil {
				ids = IDs{}
			}
			wd := st.img.Config.WorkingDir
			r.madeWorkdir = false
			if _, _, err := t.Stat(wd); errors.Is(err, fs.ErrNotExist) {
				if _, err := t.MkdirAll(wd, ids.UID, ids.GID); err != nil {
					return false, fmt.Errorf("creating WORKDIR %s: %w", wd, err)
				}
				r.madeWorkdir = true
			}
		}
		return fn(t)
	}()
	if err != nil || !keep {
		if aerr := r.b.Snapshots.Abort(context.WithoutCancel(ctx), id, target); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return nil, err
	}
	l, err := r.b.Snapshots.Commit(ctx, id, target)
	if err != nil {
		r.b.Snapshots.Abort(context.WithoutCancel(ctx), id, target)
		return nil, fmt.Errorf("committing the step's changes: %w", err)
	}
	st.workdirPending = false
	return &l, nil
}

// layerStep runs a filesystem step with caching: on a miss fn runs on a
// snapshot and its changes become a layer with a history entry.
func (r *run) layerStep(ctx context.Context, st *state, key digest.Digest, header, createdBy string, fn func(t *fscopy.Tree) error) error {
	if r.cached(ctx, st, key) {
		fmt.Fprintf(r.out, "%s CACHED\n", header)
		r.res.Cached++
		st.workdirPending = false
		return nil
	}
	fmt.Fprintln(r.out, header)
	r.res.Built++
	l, err := r.fsStep(ctx, st, func(t *fscopy.Tree) (bool, error) { return true, fn(t) })
	if err != nil {
		return err
	}
	st.layers = append(st.layers, *l)
	st.img.RootFS.DiffIDs = append(st.img.RootFS.DiffIDs, l.DiffID)
	st.key = key
	addHistory(st, createdBy, false)
	r.remember(st)
	return nil
}

// mkdirStep creates a pending WORKDIR at the end of a stage; it adds a
// layer only if the directory had to be created.
func (r *run) mkdirStep(ctx context.Context, st *state) error {
	key := stepKey(st.key, "MKDIR WORKDIR", st.img.Config.WorkingDir)
	if r.cached(ctx, st, key) {
		st.workdirPending = false
		return nil
	}
	l, err := r.fsStep(ctx, st, func(t *fscopy.Tree) (bool, error) { return r.madeWorkdir, nil })
	if err != nil {
		return err
	}
	st.workdirPending = false
	st.key = key
	if l != nil {
		st.layers = append(st.layers, *l)
		st.img.RootFS.DiffIDs = append(st.img.RootFS.DiffIDs, l.DiffID)
		addHistory(st, "WORKDIR "+st.img.Config.WorkingDir, false)
	}
	r.remember(st)
	return nil
}

// runStep runs a RUN instruction in a container on the build state.
func (r *run) runStep(ctx context.Context, st *state, c *instructions.RunCommand, header string) error {
	args, script := r.runArgs(st, c)
	env := st.img.Config.Env
	var argEnv []string
	for _, k := range sortedKeys(st.args) {
		if _, set := dockerfile.GetEnv(env, k); !set {
			argEnv = append(argEnv, k+"="+st.args[k])
		}
	}
	var proxies []string
	for _, k := range dockerfile.ProxyArgs {
		if v, ok := r.o.BuildArgs[k]; ok {
			if _, declared := st.args[k]; !declared {
				proxies = append(proxies, k+"="+v)
			}
		}
	}
	keyParts := append([]string{"RUN", r.o.Network, script}, args...)
	keyParts = append(keyParts, argEnv...)
	key := stepKey(st.key, keyParts...)
	createdBy := "RUN " + quoteJSON(args)
	if len(argEnv) > 0 {
		createdBy = fmt.Sprintf("RUN |%d %s %s", len(argEnv), strings.Join(argEnv, " "), quoteJSON(args))
	}
	return r.layerStep(ctx, st, key, header, createdBy, func(t *fscopy.Tree) error {
		ids, err := lookupUser(t, st.img.Config.User)
		if err != nil {
			return err
		}
		cwd := st.img.Config.WorkingDir
		if cwd == "" {
			cwd = "/"
		}
		if _, _, err := t.Stat(cwd); errors.Is(err, fs.ErrNotExist) {
			if _, err := t.MkdirAll(cwd, ids.UID, ids.GID); err != nil {
				return err
			}
		}
		fullEnv := append(append(append([]string(nil), env...), argEnv...), proxies...)
		return r.runContainer(ctx, t, script, runSpec{Args: args, Env: fullEnv, Cwd: cwd, User: st.img.Config.User, Groups: ids.Additional, Rootfs: t.Dir(), Network: r.o.Network})
	})
}

// runArgs builds a RUN's argv, turning heredocs into the shell script. A
// lone heredoc that starts with #! is returned as a script for its own
// interpreter instead, as BuildKit runs it.
func (r *run) runArgs(st *state, c *instructions.RunCommand) ([]string, string) {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...), ""
	}
	script := strings.Join(c.CmdLine, " ")
	if len(c.Files) > 0 {
		if len(c.Files) == 1 && parser.MustParseHeredoc(strings.TrimSpace(script)) != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				return []string{ScriptPath}, data
			}
			script = data
		} else {
			var b strings.Builder
			b.WriteString(script)
			b.WriteString("\n")
			for _, f := range c.Files {
				data := f.Data
				if f.Chomp {
					data = parser.ChompHeredocContent(data)
				}
				b.WriteString(data)
				b.WriteString(f.Name + "\n")
			}
			script = b.String()
		}
	}
	return append(r.shell(st), script), ""
}

// mountPoints are the paths the runtime may create in the rootfs to mount
// on; the ones that did not exist before the step are removed after it.
var mountPoints = []string{"proc", "sys", "dev", "etc/hosts", "etc/resolv.conf", "etc"}

// runContainer runs one container on tree t and fails unless it exits 0.
func (r *run) runContainer(ctx context.Context, t *fscopy.Tree, script string, rs runSpec) error {
	if r.b.Runtime == nil {
		return fmt.Errorf("RUN needs an OCI runtime: %w", errdefs.ErrUnavailable)
	}
	var created []string
	for _, p := range mountPoints {
		if _, err := t.Root().Lstat(p); errors.Is(err, fs.ErrNotExist) {
			created = append(created, p)
		}
	}
	id := r.newID()
	bundle := filepath.Join(r.b.TmpDir, id+"-bundle")
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(bundle)
	if script != "" {
		rs.Script = filepath.Join(bundle, "heredoc")
		if err := os.WriteFile(rs.Script, []byte(script), 0o755); err != nil {
			return err
		}
	}
	spec, err := newSpec(rs)
	if err != nil {
		return err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return err
	}
	tail := &tailWriter{max: 20}
	code, err := r.b.Runtime.Run(ctx, id, bundle, multiWriter{r.out, tail})
	if tail.partial() {
		fmt.Fprintln(r.out) // end the command's last line before ours
	}
	for _, p := range created {
		removeIfEmpty(t, p)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &RunError{Args: rs.Args, Code: code, Tail: tail.lines()}
	}
	return nil
}

// removeIfEmpty removes a mount point the runtime created, if still empty.
func removeIfEmpty(t *fscopy.Tree, p string) {
	fi, err := t.Root().Lstat(p)
	if err != nil {
		return
	}
	if fi.Mode().IsRegular() && fi.Size() == 0 || fi.IsDir() {
		t.Root().Remove(p) // fails, as it should, on a non-empty directory
	}
}

// RunError is a RUN whose command failed.
type RunError struct {
	Args []string
	Code int
	// Tail is the last lines the command printed.
	Tail []string
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("process %s did not complete successfully: exit code %d", quoteJSON(e.Args), e.Code)
	if len(e.Tail) > 0 {
		msg += "\nlast output lines:\n  " + strings.Join(e.Tail, "\n  ")
	}
	return msg
}

// copySpec is a COPY or ADD after expansion.
type copySpec struct {
	srcs     []string
	contents []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	exclude  []string
	parents  bool
	add      bool
	unpack   bool
}

// copyStep runs COPY or ADD: sources from the context, a stage or an image.
func (r *run) copyStep(ctx context.Context, st *state, c copySpec, header, name string) error {
	if len(c.exclude) > 0 {
		return fmt.Errorf("%s --exclude is not supported by berth build: %w", name, errdefs.ErrNotImplemented)
	}
	if c.parents {
		return fmt.Errorf("%s --parents is not supported by berth build: %w", name, errdefs.ErrNotImplemented)
	}
	var mode *fs.FileMode
	if c.chmod != "" {
		n, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil || n > 0o7777 {
			return fmt.Errorf("%s --chmod=%s: want an octal mode: %w", name, c.chmod, errdefs.ErrInvalidArgument)
		}
		m := fs.FileMode(n&0o777) | modeBits(n)
		mode = &m
	}
	if c.add {
		for _, s := range c.srcs {
			if isRemote(s) {
				return fmt.Errorf("ADD %s: remote sources are not supported: berth build works offline; download the file into the build context and COPY it: %w", s, errdefs.ErrNotImplemented)
			}
		}
	}
	dest := c.dest
	if !path.IsAbs(dest) {
		wd := st.img.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		trailing := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
		dest = path.Join(wd, dest)
		if trailing {
			dest += "/"
		}
	}
	destIsDir := strings.HasSuffix(dest, "/")
	if len(c.srcs)+len(c.contents) > 1 && !destIsDir {
		return fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /: %w", name, errdefs.ErrInvalidArgument)
	}

	// The source tree and the part of the key that stands for its content.
	src, keepOwner, srcKey, release, err := r.source(ctx, st, c.from)
	if err != nil {
		return err
	}
	defer release()
	var exclude func(string) bool
	if ctxSrc, ok := src.(*contextSource); ok {
		exclude = ctxSrc.c.Excluded
	}
	tree := src.tree()
	var matches []string
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", srcKey)
	for _, s := range c.srcs {
		m, err := tree.Glob(s, exclude)
		if err != nil {
			return err
		}
		if len(m) == 0 {
			where := "build context"
			if c.from != "" {
				where = c.from
			}
			return fmt.Errorf("%s failed: %s not found in %s (or excluded by .dockerignore): %w", name, s, where, errdefs.ErrNotFound)
		}
		if fscopy.HasMeta(s) && len(m) > 1 && !destIsDir {
			return fmt.Errorf("%s %s matches %d files: the destination must be a directory and end with a /: %w", name, s, len(m), errdefs.ErrInvalidArgument)
		}
		for _, p := range m {
			fmt.Fprintf(h, "src %q\n", p)
			if c.from == "" || c.add {
				if err := tree.Checksum(h, p, keepOwner, exclude); err != nil {
					return fmt.Errorf("%s %s: %w", name, s, err)
				}
			}
		}
		matches = append(matches, m...)
	}
	for _, sc := range c.contents {
		fmt.Fprintf(h, "heredoc %q %d %q\n", sc.Path, len(sc.Data), sc.Data)
	}
	keyParts := []string{name, c.from, c.chown, c.chmod, dest, strconv.FormatBool(c.unpack), digest.NewDigest(digest.SHA256, h).String()}
	keyParts = append(keyParts, c.srcs...)
	key := stepKey(st.key, keyParts...)
	createdBy := fmt.Sprintf("%s %s %s", name, strings.Join(c.srcs, " "), c.dest)
	return r.layerStep(ctx, st, key, header, createdBy, func(t *fscopy.Tree) error {
		own, err := parseChown(t, c.chown)
		if err != nil {
			return err
		}
		isDir := destIsDir
		if !isDir {
			if _, fi, err := t.Stat(dest); err == nil && fi.IsDir() {
				isDir = true
			}
		}
		for _, p := range matches {
			if c.add && c.unpack {
				r, fi, err := tree.Stat(p)
				if err == nil && fi.Mode().IsRegular() {
					if ok, _ := tree.IsArchive(r); ok {
						// Like buildah, an unpacked archive keeps its own owners.
						if err := tree.Extract(r, t, dest, own, nil); err != nil {
							return fmt.Errorf("%s %s: %w", name, p, err)
						}
						continue
					}
				}
			}
			opts := fscopy.Options{Chown: own, KeepOwner: keepOwner, Chmod: mode, Exclude: exclude}
			if err := tree.Copy(p, t, dest, isDir, opts); err != nil {
				return fmt.Errorf("%s %s: %w", name, p, err)
			}
		}
		for _, sc := range c.contents {
			to := dest
			if isDir {
				to = path.Join(dest, sc.Path)
			}
			m := fs.FileMode(0o644)
			if mode != nil {
				m = *mode
			}
			o := fscopy.Owner{}
			if own != nil {
				o = *own
			}
			if err := t.WriteFile(to, []byte(sc.Data), m, o); err != nil {
				return fmt.Errorf("%s <<%s: %w", name, sc.Path, err)
			}
		}
		return nil
	})
}

func modeBits(n uint64) fs.FileMode {
	var m fs.FileMode
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func isRemote(s string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git@", "ssh://"} {
		if strings.HasPrefix(strings.ToLower(s), p) {
			return true
		}
	}
	return false
}
