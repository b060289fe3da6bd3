package specgen

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const fixture = "testdata/rootfs"

func TestResolveUser(t *testing.T) {
	tests := []struct {
		user string
		want specs.User
		err  error
	}{
		{"", specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{50}}, nil},
		{"root", specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{50}}, nil},
		{"app", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{29, 44}}, nil},
		{"1000", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{29, 44}}, nil},
		{"www-data", specs.User{UID: 33, GID: 33, AdditionalGids: []uint32{29}}, nil},
		{"app:video", specs.User{UID: 1000, GID: 44, AdditionalGids: []uint32{29, 44}}, nil},
		{"app:7", specs.User{UID: 1000, GID: 7, AdditionalGids: []uint32{29, 44}}, nil},
		{"4242", specs.User{UID: 4242, GID: 0}, nil},
		{"4242:4343", specs.User{UID: 4242, GID: 4343}, nil},
		{"nobody", specs.User{}, errdefs.ErrInvalidArgument},
		{"app:nogroup", specs.User{}, errdefs.ErrInvalidArgument},
		{"app:", specs.User{}, errdefs.ErrInvalidArgument},
		{":5", specs.User{}, errdefs.ErrInvalidArgument},
		{"a:b:c", specs.User{}, errdefs.ErrInvalidArgument},
		{"2147483648", specs.User{}, errdefs.ErrInvalidArgument},
		{"99999999999999999999", specs.User{}, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got, err := ResolveUser(fixture, tt.user)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResolveUserHome(t *testing.T) {
	for user, home := range map[string]string{"app": "/home/app", "nohome": "/", "4242": "/", "": "/root"} {
		got, err := resolveUser(fixture, user, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.home != home {
			t.Errorf("%q: home %q, want %q", user, got.home, home)
		}
	}
}

func TestResolveUserGroupAdd(t *testing.T) {
	got, err := resolveUser(fixture, "app", []string{"tty", "44", "900"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{29, 44, 5, 900}; !reflect.DeepEqual(got.user.AdditionalGids, want) {
		t.Fatalf("gids %v, want %v", got.user.AdditionalGids, want)
	}
	if _, err := resolveUser(fixture, "app", []string{"nosuchgroup"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("unknown --group-add: %v", err)
	}
}

// TestResolveUserNoFiles: numeric ids work in a rootfs without /etc.
func TestResolveUserNoFiles(t *testing.T) {
	dir := t.TempDir()
	got, err := ResolveUser(dir, "123:456")
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != 123 || got.GID != 456 || len(got.AdditionalGids) != 0 {
		t.Fatalf("got %+v", got)
	}
	if _, err := ResolveUser(dir, "app"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("name without /etc/passwd: %v", err)
	}
}

// TestResolveUserHostile plants symlinks and special files where the image's
// /etc/passwd should be: nothing outside the rootfs may be read, and nothing
// but a regular file.
func TestResolveUserHostile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(outside, []byte("evil:x:4242:4242::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, etc string)
		err   bool // an error rather than "no such user"
	}{
		{"absolute symlink to a host file", func(t *testing.T, etc string) {
			must(t, os.Symlink(outside, filepath.Join(etc, "passwd")))
		}, false},
		{"dot-dot symlink to a host file", func(t *testing.T, etc string) {
			must(t, os.Symlink("../../../../../../../../../../.."+outside, filepath.Join(etc, "passwd")))
		}, false},
		{"/etc itself a symlink to the host's directory", func(t *testing.T, etc string) {
			must(t, os.Remove(etc))
			must(t, os.Symlink(filepath.Dir(outside), etc))
		}, false},
		{"magic link through /proc", func(t *testing.T, etc string) {
			f, err := os.Open(outside)
			must(t, err)
			t.Cleanup(func() { f.Close() })
			must(t, os.Symlink("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), filepath.Join(etc, "passwd")))
		}, false},
		{"a fifo", func(t *testing.T, etc string) {
			must(t, unix.Mkfifo(filepath.Join(etc, "passwd"), 0o644))
		}, true},
		{"a directory", func(t *testing.T, etc string) {
			must(t, os.Mkdir(filepath.Join(etc, "passwd"), 0o755))
		}, true},
		{"a huge (sparse) file", func(t *testing.T, etc string) {
			f, err := os.Create(filepath.Join(etc, "passwd"))
			must(t, err)
			must(t, f.Truncate(maxIDFile+1))
			must(t, f.Close())
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			etc := filepath.Join(root, "etc")
			must(t, os.Mkdir(etc, 0o755))
			tt.setup(t, etc)
			got, err := ResolveUser(root, "evil")
			if err == nil {
				t.Fatalf("resolved %+v from outside the rootfs", got)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) && !tt.err {
				t.Fatalf("unexpected error: %v", err)
			}
			// Numeric users still work when the file is merely unreachable.
			if !tt.err {
				if _, err := ResolveUser(root, "7"); err != nil {
					t.Fatalf("numeric user: %v", err)
				}
			}
		})
	}
}

// TestResolveUserSymlinkInside: a symlink that stays inside the rootfs, even
// an absolute one, is followed as the container would.
func TestResolveUserSymlinkInside(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "usr/share"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "usr/share/passwd"), []byte("inside:x:77:78::/:/bin/sh\n"), 0o644))
	must(t, os.Symlink("/usr/share/passwd", filepath.Join(root, "etc/passwd")))
	got, err := ResolveUser(root, "inside")
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != 77 || got.GID != 78 {
		t.Fatalf("got %+v", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
