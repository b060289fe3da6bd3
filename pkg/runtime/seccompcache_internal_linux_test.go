package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/seccomp"
)

// The seccomp cache returns what a compile returns, from its file the
// second time, and ignores an entry that does not match its hash.
func TestSeccompCache(t *testing.T) {
	r := &Runtime{root: t.TempDir()}
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow}},
	}
	f, wantFlags, err := seccomp.Prepare(profile)
	if err != nil {
		t.Fatal(err)
	}
	want := unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*8)
	path := r.seccompCachePath(profile)
	if path == "" {
		t.Fatal("no cache key")
	}
	for i, what := range []string{"compiled", "cached", "recompiled after corruption"} {
		if i == 2 {
			b, _ := os.ReadFile(path)
			b[len(b)-1] ^= 0xff
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		prog, flags, err := r.compileSeccomp(profile)
		if err != nil || !bytes.Equal(prog, want) || flags != wantFlags {
			t.Fatalf("%s: %d bytes, flags %#x, %v; want %d bytes, flags %#x", what, len(prog), flags, err, len(want), wantFlags)
		}
		if _, _, ok := readSeccompCache(path); !ok {
			t.Fatalf("%s: no valid cache entry at %s", what, path)
		}
	}
	other := *profile
	other.DefaultAction = specs.ActKill
	if r.seccompCachePath(&other) == path {
		t.Error("two profiles share a cache entry")
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d cache entries, want 1", len(ents))
	}
}
