package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/buildcontext"
)

// corpus lists the Dockerfiles in testdata/corpus: one directory each, the
// directory is the context.
func corpus(t *testing.T) []string {
	dirs, err := filepath.Glob("testdata/corpus/*/Dockerfile")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for i := range dirs {
		dirs[i] = filepath.Dir(dirs[i])
	}
	return dirs
}

// buildCorpus builds one corpus entry with berth and returns its rootfs.
func buildCorpus(t *testing.T, e *env, dir string, args map[string]string) (*Base, string) {
	t.Helper()
	c, err := buildcontext.Open(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	df, err := c.ReadDockerfile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	tag := "corpus-" + filepath.Base(dir)
	if _, err := e.b.Build(context.Background(), Options{Context: c, Dockerfile: df, Tags: []string{tag}, BuildArgs: args, Out: &out}); err != nil {
		t.Fatalf("building %s: %v\n%s", dir, err, out.String())
	}
	img, err := e.store.Resolve(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return img, e.store.rootfs(img)
}

// TestCorpus builds every corpus Dockerfile and checks what each promises.
func TestCorpus(t *testing.T) {
	e := runEnv(t)
	checks := map[string]func(t *testing.T, img *Base, root string){
		"metadata": func(t *testing.T, img *Base, root string) {
			c := img.Config.Config
			if c.User != "daemon" || c.WorkingDir != "/srv" || c.StopSignal != "SIGQUIT" || c.Healthcheck == nil {
				t.Errorf("config %+v", c)
			}
			if !contains(c.Env, "THREE=1-two words") {
				t.Errorf("env %v", c.Env)
			}
			if _, err := os.Stat(filepath.Join(root, "srv")); err != nil {
				t.Errorf("WORKDIR /srv not created: %v", err)
			}
		},
		"copy": func(t *testing.T, img *Base, root string) {
			wantFile(t, root, "copy/glob/a.txt", "A\n")
			wantFile(t, root, "copy/followed", "A\n")
			wantFile(t, root, "copy/contents-only/sub/d.txt", "D\n")
			if _, err := os.Lstat(filepath.Join(root, "copy/glob/ignored.txt")); err == nil {
				t.Errorf(".dockerignore not applied")
			}
		},
		"add": func(t *testing.T, img *Base, root string) {
			wantFile(t, root, "add/pkg/README", "readme\n")
			wantFile(t, root, "add/owned/pkg/bin/tool", "#!/bin/sh\necho tool\n")
		},
		"run": func(t *testing.T, img *Base, root string) {
			wantFile(t, root, "app/built.txt", "built\n")
			if _, err := os.Lstat(filepath.Join(root, "home")); err == nil {
				t.Errorf("/home survived rm -rf")
			}
		},
		"multistage": func(t *testing.T, img *Base, root string) {
			wantFile(t, root, "app/out.txt", "main\nmain\ncompiled\n")
			wantFile(t, root, "app/by-index.txt", "second\n")
			if _, err := os.Lstat(filepath.Join(root, "never-built")); err == nil {
				t.Errorf("unused stage leaked")
			}
		},
		"args": func(t *testing.T, img *Base, root string) {
			wantFile(t, root, "args.txt", "2.0-plain\n")
			wantFile(t, root, "proxy.txt", "http://proxy.invalid:3128\n")
			if img.Config.Config.Labels["version"] != "2.0" {
				t.Errorf("labels %v", img.Config.Config.Labels)
			}
		},
		"workdir-user": func(t *testing.T, img *Base, root string) {
			wantFile(t, root, "pwd.txt", "/a/b\n")
			fi, err := os.Stat(filepath.Join(root, "owned-by-daemon/f.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if uid, _ := ownerOf(fi); uid != 1 {
				t.Errorf("--chown=daemon gave uid %d", uid)
			}
		},
		"heredoc": func(t *testing.T, img *Base, root string) {
			wantFile(t, root, "one.txt", "one\ntwo\n")
			wantFile(t, root, "cat.txt", "from cat\n")
			wantFile(t, root, "etc/heredoc.conf", "key=value\n")
			wantFile(t, root, "multi/A", "a\n")
			wantFile(t, root, "shebang.txt", "shebang /dev/.berth-heredoc\n")
			if _, err := os.Lstat(filepath.Join(root, "dev/.berth-heredoc")); err == nil {
				t.Errorf("the heredoc script landed in the image")
			}
		},
	}
	for _, dir := range corpus(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			img, root := buildCorpus(t, e, dir, map[string]string{"VERSION": "2.0", "HTTP_PROXY": "http://proxy.invalid:3128"})
			check, ok := checks[name]
			if !ok {
				t.Fatalf("corpus entry %s has no checks", name)
			}
			check(t, img, root)
		})
	}
}

func wantFile(t *testing.T, root, p, want string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil || string(b) != want {
		t.Errorf("%s = %q (%v), want %q", p, b, err, want)
	}
}

// TestCompareBuildah builds the corpus with berth and with buildah and
// compares the resulting filesystems: names, types, modes, owners,
// symlink targets and contents.
func TestCompareBuildah(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "buildah")
	e := runEnv(t)
	bh := newBuildah(t)
	bh.importRootfs(testutil.RootfsTar(t), "busybox:latest")
	args := map[string]string{"VERSION": "2.0"}
	for _, dir := range corpus(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			if name == "heredoc" {
				t.Skip("buildah 1.28 (Debian) does not support heredocs")
			}
			_, ours := buildCorpus(t, e, dir, args)
			theirs := bh.withT(t).build(dir, args)
			a, b := listTree(t, ours), listTree(t, theirs)
			diffTrees(t, ours, theirs, a, b)
		})
	}
}

// entryInfo is what the comparison looks at for one path.
type entryInfo string

func listTree(t *testing.T, root string) map[string]entryInfo {
	out := map[string]entryInfo{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walking %s: %v", p, err)
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		uid, gid := ownerOf(fi)
		s := fmt.Sprintf("%s %d:%d", fi.Mode().String(), uid, gid)
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			h := sha256.Sum256(b)
			s += " " + hex.EncodeToString(h[:8])
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			s += " -> " + l
		}
		out[rel] = entryInfo(s)
		return nil
	})
	return out
}

func diffTrees(t *testing.T, oursRoot, theirsRoot string, ours, theirs map[string]entryInfo) {
	t.Helper()
	var keys []string
	for k := range ours {
		keys = append(keys, k)
	}
	for k := range theirs {
		if _, ok := ours[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		a, b := ours[k], theirs[k]
		if a == "" && buildahArtifacts[k] {
			continue
		}
		if a != b {
			n++
			if n <= 30 {
				t.Errorf("%s: berth %q, buildah %q", k, a, b)
				if os.Getenv("BERTH_TEST_DEBUG") != "" {
					t.Logf("berth: %s", readMaybe(filepath.Join(oursRoot, k)))
					t.Logf("buildah: %s", readMaybe(filepath.Join(theirsRoot, k)))
				}
			}
		}
	}
	if n > 30 {
		t.Errorf("... %d differences in all", n)
	}
}

// buildahArtifacts are files buildah's RUN leaves in the image (empty
// mount points for its own /etc files) that berth does not.
var buildahArtifacts = map[string]bool{"etc/hostname": true, "etc/hosts": true, "etc/resolv.conf": true, "run/.containerenv": true}

// buildah drives buildah with a private storage root.
type buildah struct {
	t    *testing.T
	args []string
}

func newBuildah(t *testing.T) *buildah {
	dir, err := os.MkdirTemp("", "berth-buildah-")
	if err != nil {
		t.Fatal(err)
	}
	b := &buildah{t: t, args: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}}
	t.Cleanup(func() {
		exec.Command("buildah", append(b.args, "rm", "--all")...).Run()
		exec.Command("buildah", append(b.args, "unmount", "--all")...).Run()
		exec.Command("umount", "-R", filepath.Join(dir, "root")).Run()
		os.RemoveAll(dir)
	})
	return b
}

func (b *buildah) withT(t *testing.T) *buildah { c := *b; c.t = t; return &c }

func (b *buildah) run(args ...string) string {
	b.t.Helper()
	cmd := exec.Command("buildah", append(append([]string(nil), b.args...), args...)...)
	cmd.Env = append(os.Environ(), "BUILDAH_ISOLATION=oci")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		b.t.Fatalf("buildah %v: %v\n%s%s", args, err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

func (b *buildah) importRootfs(tarball, name string) {
	ctr := b.run("from", "scratch")
	b.run("add", ctr, tarball, "/")
	b.run("config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ctr)
	b.run("commit", "-q", ctr, name)
	b.run("rm", ctr)
}

func (b *buildah) build(dir string, args map[string]string) string {
	tag := "corpus-" + filepath.Base(dir)
	cmdArgs := []string{"bud", "-q", "--runtime", "runc", "--network", "none", "--pull-never",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "-t", tag}
	for k, v := range args {
		cmdArgs = append(cmdArgs, "--build-arg", k+"="+v)
	}
	b.run(append(cmdArgs, dir)...)
	ctr := b.run("from", "--pull-never", tag)
	return b.run("mount", ctr)
}

func readMaybe(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
