package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/seccomp"
)

// Compiling docker's default profile takes ~1.5 ms, per container, for
// the same few profiles. The C init's plan carries the compiled program, so
// the runtime keeps each program it compiles under its state root, keyed by
// a hash of the profile, the architecture and the binary that compiled it
// (a rebuilt runtime compiles afresh), and reads it back next time.

// seccompCacheDir is the cache's directory under the state root: '@' is
// not allowed in container ids, so no container's directory can be it and
// List skips it.
const seccompCacheDir = "@seccomp"

// seccompCacheMax bounds the cache: a write that finds more entries
// empties it first.
const seccompCacheMax = 64

var seccompCacheMagic = []byte("BSC1\x00\x00\x00\x00")

// compileSeccomp returns s compiled to a classic BPF program (as bytes)
// and its filter flags, from the cache when it holds them.
func (r *Runtime) compileSeccomp(s *specs.LinuxSeccomp) ([]byte, uintptr, error) {
	path := r.seccompCachePath(s)
	if path != "" {
		if prog, flags, ok := readSeccompCache(path); ok {
			return prog, flags, nil
		}
	}
	f, flags, err := seccomp.Prepare(s)
	if err != nil {
		return nil, 0, err
	}
	prog := unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*int(unsafe.Sizeof(f[0])))
	if path != "" {
		writeSeccompCache(path, prog, flags)
	}
	return prog, flags, nil
}

// seccompCachePath is the cache file for s, or "" when no key can be made.
func (r *Runtime) seccompCachePath(s *specs.LinuxSeccomp) string {
	var st unix.Stat_t
	if r.root == "" || unix.Stat("/proc/self/exe", &st) != nil {
		return ""
	}
	profile, err := json.Marshal(s)
	if err != nil {
		return ""
	}
	h := sha256.New()
	for _, v := range []uint64{st.Dev, st.Ino, uint64(st.Size), uint64(st.Mtim.Sec), uint64(st.Mtim.Nsec)} {
		h.Write(strconv.AppendUint(nil, v, 10))
		h.Write([]byte{0})
	}
	h.Write([]byte(goruntime.GOARCH))
	h.Write([]byte{0})
	h.Write(profile)
	return filepath.Join(r.root, seccompCacheDir, hex.EncodeToString(h.Sum(nil)))
}

// readSeccompCache reads an entry: magic, flags, the program's sha256, the
// program. A torn or altered entry does not match its hash and is ignored.
func readSeccompCache(path string) ([]byte, uintptr, bool) {
	b, err := os.ReadFile(path)
	head := len(seccompCacheMagic) + 8 + sha256.Size
	if err != nil || len(b) <= head || !bytes.Equal(b[:len(seccompCacheMagic)], seccompCacheMagic) {
		return nil, 0, false
	}
	flags := binary.NativeEndian.Uint64(b[len(seccompCacheMagic):])
	sum := b[len(seccompCacheMagic)+8 : head]
	prog := b[head:]
	if got := sha256.Sum256(prog); !bytes.Equal(got[:], sum) || len(prog)%8 != 0 {
		return nil, 0, false
	}
	return prog, uintptr(flags), true
}

// writeSeccompCache stores an entry atomically; failures only cost a
// compile next time.
func writeSeccompCache(path string, prog []byte, flags uintptr) {
	dir := filepath.Dir(path)
	if ents, err := os.ReadDir(dir); err == nil && len(ents) >= seccompCacheMax {
		for _, e := range ents {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	} else if err != nil && os.Mkdir(dir, 0o700) != nil {
		return
	}
	sum := sha256.Sum256(prog)
	b := append([]byte{}, seccompCacheMagic...)
	b = binary.NativeEndian.AppendUint64(b, uint64(flags))
	b = append(b, sum[:]...)
	b = append(b, prog...)
	writeFileAtomic(path, b, 0o600, false)
}
