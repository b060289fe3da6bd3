package seccomp

import (
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestTablesAgainstLibseccomp checks berth's syscall numbers against
// libseccomp's resolver (Debian package seccomp) for the names of docker's
// default profile on every architecture berth compiles for: every name with
// BERTH_SECCOMP_ALL_NAMES=1 (one exec each, about 2800), otherwise every
// fourth name plus the x32-specific ones. Names libseccomp does not know
// (newer than it) are not compared.
func TestTablesAgainstLibseccomp(t *testing.T) {
	resolver, err := exec.LookPath("scmp_sys_resolver")
	if err != nil {
		t.Skip("scmp_sys_resolver (Debian package seccomp) is not installed")
	}
	names := map[string]bool{}
	for _, sc := range dockerProfile(t, append([]string{"CAP_SYS_ADMIN"}, dockerCaps...)).Syscalls {
		for _, n := range sc.Names {
			names[n] = true
		}
	}
	all := os.Getenv("BERTH_SECCOMP_ALL_NAMES") != ""
	sorted := slices.Sorted(maps.Keys(names))
	for i, n := range sorted {
		if _, x32 := x32Compat[n]; !all && i%4 != 0 && !x32 {
			delete(names, n)
		}
	}
	arches := map[specs.Arch]string{specs.ArchX86_64: "x86_64", specs.ArchX86: "x86", specs.ArchX32: "x32", specs.ArchAARCH64: "aarch64", specs.ArchARM: "arm", specs.ArchRISCV64: "riscv64", specs.ArchPPC64LE: "ppc64le"}
	type job struct {
		arch specs.Arch
		name string
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				out, err := exec.Command(resolver, "-a", arches[j.arch], j.name).Output()
				if err != nil {
					t.Errorf("%s %s: %v", j.arch, j.name, err)
					continue
				}
				theirs, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
				if err != nil {
					t.Errorf("%s %s: resolver said %q", j.arch, j.name, out)
					continue
				}
				ours, known := abiOf(j.arch).table[j.name]
				mu.Lock()
				checked++
				mu.Unlock()
				switch {
				case theirs < 0 && known && theirs != -1:
					// libseccomp knows the name but not as a syscall of this ABI
					// (x86 socket and IPC calls are its pseudo-syscalls, which
					// berth handles through socketcall/ipc itself).
					if abiOf(j.arch).multiplexed && (x86Socketcall[j.name] != 0 || x86IPC[j.name] != 0) {
						continue
					}
					t.Errorf("%s %s: berth has %d, libseccomp has none", j.arch, j.name, ours)
				case theirs >= 0 && !known:
					t.Errorf("%s %s: libseccomp has %d, berth has none", j.arch, j.name, theirs)
				case theirs >= 0 && uint32(theirs) != ours:
					t.Errorf("%s %s: berth has %d, libseccomp %d", j.arch, j.name, ours, theirs)
				}
			}
		}()
	}
	for a := range arches {
		for n := range names {
			jobs <- job{a, n}
		}
	}
	close(jobs)
	wg.Wait()
	t.Logf("compared %d names", checked)
}
